//! Terminal output: one object decides quiet / progress / colour.
//! Data goes to stdout; progress, logs and errors to stderr; hints start
//! with `hint:`. `NO_COLOR` (any value) turns colour off; progress bars
//! show only when stderr is a terminal.

use gradscope::experiment::trainer::{Event, Sink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How chatty the terminal is.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Progress bars on stderr.
    pub progress: bool,
    /// ANSI colours.
    pub color: bool,
}

impl Output {
    /// From the environment and `--quiet`.
    pub fn detect(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Self {
            progress: tty && !quiet,
            color: tty && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// `text` in bold when colour is on.
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A sink drawing one progress bar with loss and accuracy.
pub struct ProgressSink {
    bar: ProgressBar,
    label: String,
    loss: f64,
    accuracy: f64,
}

impl ProgressSink {
    /// A bar labelled `label`, hidden unless `output.progress`.
    pub fn new(output: Output, label: &str) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if output.progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        Self {
            bar,
            label: label.to_string(),
            loss: f64::NAN,
            accuracy: f64::NAN,
        }
    }
}

impl Sink for ProgressSink {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { total_steps, .. } => self.bar.set_length(*total_steps as u64),
            Event::Step(s) => {
                // Smooth the batch figures so the bar is readable.
                let a = 0.05;
                self.loss = if self.loss.is_nan() {
                    s.loss
                } else {
                    (1.0 - a) * self.loss + a * s.loss
                };
                self.accuracy = if self.accuracy.is_nan() {
                    s.accuracy
                } else {
                    (1.0 - a) * self.accuracy + a * s.accuracy
                };
                self.bar.set_position(s.step as u64 + 1);
                if s.step % 10 == 0 {
                    self.bar.set_message(format!(
                        "loss {:.4} acc {:.1}%",
                        self.loss,
                        100.0 * self.accuracy
                    ));
                }
            }
            Event::Eval(e) => self.bar.println(format!(
                "{:>12} step {:>6}: held-out loss {:.4}, accuracy {:.2}%",
                self.label,
                e.step,
                e.test_loss,
                100.0 * e.test_accuracy
            )),
            Event::Finished(_) | Event::Failed { .. } => self.bar.finish_and_clear(),
            Event::Probe(_) => {}
        }
    }
}
