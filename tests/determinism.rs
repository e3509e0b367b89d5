//! Same seed, same machine: bitwise identical parameters after N steps, at
//! one and two GEMM threads, for SGD and Adam, with and without BatchNorm.

use gradscope::nn::{Activation, Loss, MlpConfig, Mode, Norm, NormPlacement, Targets};
use gradscope::optim::OptimizerConfig;
use gradscope::tensor::{set_max_threads, Init, Matrix};

fn train(cfg: &MlpConfig, optimizer: &str, steps: usize) -> Vec<Vec<f32>> {
    let mut mlp = cfg.build::<f32>(42).unwrap();
    let mut opt = OptimizerConfig::from_name(optimizer)
        .unwrap()
        .build::<f32>();
    let x = Matrix::from_vec(
        64,
        300,
        (0..64 * 300)
            .map(|i| ((i * 7919) % 255) as f32 / 255.0)
            .collect(),
    )
    .unwrap();
    let labels: Vec<usize> = (0..64).map(|i| (i * 31) % 10).collect();
    let mut grad = Matrix::default();
    for _ in 0..steps {
        mlp.zero_grad();
        let out = mlp.forward(&x, Mode::Train);
        Loss::CrossEntropy.compute(out, Targets::Classes(&labels), &mut grad);
        mlp.backward(&x, &grad);
        opt.step(&mut mlp.params(), 0.01);
    }
    mlp.params()
        .iter()
        .map(|p| p.param.value.as_slice().to_vec())
        .collect()
}

#[test]
fn same_seed_gives_bitwise_identical_parameters() {
    let plain = MlpConfig::new(300, 10)
        .depth(4, 200)
        .activation(Activation::Tanh)
        .init(Init::XavierUniform { gain: 1.0 });
    let bn = plain.clone().norm(Norm::Batch, NormPlacement::Before);
    for threads in [1, 2] {
        set_max_threads(threads);
        for (cfg, opt) in [(&plain, "sgd"), (&bn, "adam")] {
            let a = train(cfg, opt, 10);
            let b = train(cfg, opt, 10);
            let bits = |v: &Vec<Vec<f32>>| -> Vec<u32> {
                v.iter().flatten().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(&a), bits(&b), "{opt} at {threads} threads");
        }
    }
}
