//! A small driver for headless Chromium over the DevTools protocol, for the
//! browser tests: launch it, open one page, navigate, evaluate JavaScript
//! and read the value back, wait until an expression holds, press keys,
//! take screenshots, and collect what the page logs as an error or a
//! warning (console calls, uncaught exceptions, the browser's own log:
//! failed requests among them).
//!
//! The protocol is JSON-RPC over a websocket: commands `{id, method,
//! params}` answered by `{id, result}` or `{id, error}`, and events
//! `{method, params}` in between, which `call` reads as it waits. The
//! browser is killed, and its profile folder removed, when the `Browser`
//! is dropped, on every path.

#![allow(dead_code)] // each test binary uses part of it

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long one protocol command may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Chromium may take to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Chromium, with one page open, driven over the DevTools protocol.
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Errors and warnings the page logged, in order, as one line each.
    problems: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium (`binary`) with a fresh profile and a
    /// `width` x `height` page, and attaches to the page.
    pub fn launch(binary: &Path, width: u32, height: u32) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| format!("profile folder: {e}"))?;
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let endpoint = match devtools_endpoint(&mut child) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // Kill the child if anything below fails: from here `Browser` owns it.
        let mut browser = Browser {
            socket: connect(&endpoint)?,
            child,
            next_id: 0,
            problems: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or("Target.createTarget: no targetId")?
            .to_string();
        // Talk to the page directly, on its own socket.
        let host = endpoint
            .split("/devtools/")
            .next()
            .ok_or_else(|| format!("odd DevTools address {endpoint}"))?;
        let page = connect(&format!("{host}/devtools/page/{target_id}"))?;
        let _ = browser.socket.close(None);
        browser.socket = page;
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        browser.call("Log.enable", json!({}))?;
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(browser)
    }

    /// Sends one command and waits for its answer, recording the events
    /// that arrive meanwhile.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(message))
            .map_err(|e| format!("{method}: send: {e}"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                return Err(format!("{method}: no answer in {CALL_TIMEOUT:?}"));
            }
            let text = match self.socket.read() {
                Ok(Message::Text(text)) => text,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(format!("{method}: read: {e}")),
            };
            let value: Value =
                serde_json::from_str(&text).map_err(|e| format!("{method}: bad JSON: {e}"))?;
            if value["id"].as_u64() == Some(id) {
                if let Some(error) = value.get("error") {
                    return Err(format!("{method}: {error}"));
                }
                return Ok(value["result"].clone());
            }
            if let Some(event) = value["method"].as_str() {
                self.record(event, &value["params"]);
            }
        }
    }

    /// Keeps what an event says went wrong on the page.
    fn record(&mut self, event: &str, params: &Value) {
        match event {
            "Runtime.consoleAPICalled" => {
                let kind = params["type"].as_str().unwrap_or("");
                if matches!(kind, "error" | "warning" | "assert") {
                    let args: Vec<String> = params["args"]
                        .as_array()
                        .map(|args| {
                            args.iter()
                                .map(|a| match &a["value"] {
                                    Value::String(s) => s.clone(),
                                    Value::Null => a["description"].as_str().unwrap_or("").into(),
                                    v => v.to_string(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    self.problems
                        .push(format!("console.{kind}: {}", args.join(" ")));
                }
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("?");
                self.problems.push(format!("uncaught exception: {text}"));
            }
            "Log.entryAdded" => {
                let entry = &params["entry"];
                let level = entry["level"].as_str().unwrap_or("");
                if matches!(level, "error" | "warning") {
                    self.problems.push(format!(
                        "log {level}: {} {}",
                        entry["text"].as_str().unwrap_or(""),
                        entry["url"].as_str().unwrap_or("")
                    ));
                }
            }
            _ => {}
        }
    }

    /// Opens `url` and waits until its document has loaded.
    pub fn navigate(&mut self, url: &str) -> Result<(), String> {
        let answer = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = answer["errorText"].as_str() {
            return Err(format!("navigate {url}: {error}"));
        }
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(10),
        )
        .map(|_| ())
    }

    /// Evaluates a JavaScript expression (awaiting a promise) and returns
    /// its value; a thrown exception is an error naming it.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(details) = answer.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("?");
            return Err(format!("`{expression}` threw: {text}"));
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Evaluates `expression` every 50 ms until it is truthy, and returns
    /// that value; after `timeout` an error naming the expression and its
    /// last value.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression)?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "waited {timeout:?} for `{expression}`, last value {value}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses and releases a key (`ArrowLeft`, `ArrowRight`, ...) on the
    /// element that has the focus.
    pub fn press(&mut self, key: &str) -> Result<(), String> {
        let code: u32 = match key {
            "ArrowLeft" => 37,
            "ArrowUp" => 38,
            "ArrowRight" => 39,
            "ArrowDown" => 40,
            "Home" => 36,
            "End" => 35,
            "Enter" => 13,
            "Escape" => 27,
            _ => return Err(format!("press: no key code for {key}")),
        };
        for kind in ["rawKeyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key,
                       "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}),
            )?;
        }
        Ok(())
    }

    /// Writes a PNG of the whole page (past the viewport's height) to `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        let metrics = self.call("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(1280.0);
        let height = size["height"].as_f64().unwrap_or(800.0).min(6000.0);
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        )?;
        let data = shot["data"]
            .as_str()
            .ok_or("Page.captureScreenshot: no data")?;
        let png = base64_decode(data)?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// What the page logged as an error or a warning so far (reading the
    /// events that are waiting first).
    pub fn problems(&mut self) -> Result<Vec<String>, String> {
        self.eval("0")?;
        Ok(self.problems.clone())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads Chromium's stderr until `DevTools listening on ws://...`, and
/// keeps draining it on a thread so the browser never blocks on a full pipe.
fn devtools_endpoint(child: &mut Child) -> Result<String, String> {
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(Ok(line[at..].trim().to_string()));
                    sent = true;
                } else if seen.len() < 20 {
                    seen.push(line);
                }
            }
        }
        if !sent {
            let _ = tx.send(Err(format!(
                "Chromium exited without a DevTools address; it said:\n{}",
                seen.join("\n")
            )));
        }
    });
    rx.recv_timeout(LAUNCH_TIMEOUT)
        .map_err(|_| format!("no DevTools address from Chromium in {LAUNCH_TIMEOUT:?}"))?
}

fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, String> {
    let (socket, _) = tungstenite::connect(url).map_err(|e| format!("connect {url}: {e}"))?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| format!("{url}: {e}"))?;
    }
    Ok(socket)
}

/// Standard base64 (with padding), as the protocol sends screenshots.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c).ok_or("screenshot: not base64")? << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Ok(out)
}
