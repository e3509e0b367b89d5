import gzip, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, sys
torch.manual_seed(0); torch.set_num_threads(1)
def idx(p):
    b=gzip.open(p).read(); 
    if b[2]==8 and b[3]==3: return np.frombuffer(b,np.uint8,offset=16).reshape(-1,28,28)
    return np.frombuffer(b,np.uint8,offset=8)
X=torch.tensor(idx('/work/main/data/mnist-10k/train-images-idx3-ubyte.gz')/255.,dtype=torch.float32).unsqueeze(1)
Y=torch.tensor(idx('/work/main/data/mnist-10k/train-labels-idx1-ubyte.gz').astype(np.int64))
Xtr,Ytr,Xte,Yte=X[:8000],Y[:8000],X[8000:],Y[8000:]
class Block(nn.Module):
    def __init__(s,ci,co,st):
        super().__init__(); s.c1=nn.Conv2d(ci,co,3,st,1,bias=False); s.b1=nn.BatchNorm2d(co); s.c2=nn.Conv2d(co,co,3,1,1,bias=False); s.b2=nn.BatchNorm2d(co); s.st=st; s.pad=co-ci
    def forward(s,x):
        y=s.b2(s.c2(F.relu(s.b1(s.c1(x)))))
        sc=x[:,:,::s.st,::s.st]
        if s.pad: sc=F.pad(sc,(0,0,0,0,0,s.pad))
        return F.relu(y+sc)
ch=[int(c) for c in sys.argv[1].split(',')]; n=int(sys.argv[2]); steps=int(sys.argv[3]); lr=float(sys.argv[4])
layers=[nn.Conv2d(1,ch[0],3,1,1,bias=False),nn.BatchNorm2d(ch[0]),nn.ReLU()]
ci=ch[0]
for s,c in enumerate(ch):
    for j in range(n):
        layers.append(Block(ci,c,2 if s>0 and j==0 else 1)); ci=c
net=nn.Sequential(*layers,nn.AdaptiveAvgPool2d(1),nn.Flatten(),nn.Linear(ci,10))
for m in net.modules():
    if isinstance(m,(nn.Conv2d,nn.Linear)): nn.init.kaiming_normal_(m.weight,nonlinearity='relu'); 
    if isinstance(m,nn.Linear): nn.init.zeros_(m.bias)
opt=torch.optim.SGD(net.parameters(),lr=lr,momentum=0.9)
g=torch.Generator().manual_seed(1); perm=torch.randperm(8000,generator=g); i=0
for t in range(steps):
    if i+32>8000: perm=torch.randperm(8000,generator=g); i=0
    b=perm[i:i+32]; i+=32
    net.train(); loss=F.cross_entropy(net(Xtr[b]),Ytr[b]); opt.zero_grad(); loss.backward(); opt.step()
    if (t+1)%50==0:
        net.eval()
        with torch.no_grad(): acc=(net(Xte).argmax(1)==Yte).float().mean().item()
        print(t+1, round(loss.item(),3), acc, flush=True)
