//! Terminal output: one object decides quiet / progress / styles.
//! Data goes to stdout; progress, logs and errors to stderr; hints start
//! with `hint:`. Styles (ANSI bold) are decided per stream: a stream is
//! styled only when it is a terminal and `NO_COLOR` is unset or empty, so
//! `gradscope demo > out.txt` writes plain text whatever stderr is.
//! Progress bars show only when stderr is a terminal.

use gradscope::experiment::trainer::{Event, Sink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How chatty the terminal is, and which streams take styles.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Progress bars on stderr.
    pub progress: bool,
    /// ANSI styles on stdout.
    pub stdout_styled: bool,
    /// ANSI styles on stderr.
    pub stderr_styled: bool,
}

impl Output {
    /// A progress bar (length 0 until set) on stderr, hidden unless
    /// `self.progress`, drawn with `template` (indicatif's syntax).
    pub fn progress_bar(&self, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if self.progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    }

    /// From the environment and `--quiet`.
    pub fn detect(quiet: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr_terminal = std::io::stderr().is_terminal();
        Self {
            progress: stderr_terminal && !quiet,
            stdout_styled: styled(std::io::stdout().is_terminal(), no_color),
            stderr_styled: styled(stderr_terminal, no_color),
        }
    }

    /// `text` in bold for stdout, when stdout takes styles.
    pub fn bold(&self, text: &str) -> String {
        bold_if(self.stdout_styled, text)
    }

    /// `text` in bold for stderr, when stderr takes styles.
    pub fn bold_stderr(&self, text: &str) -> String {
        bold_if(self.stderr_styled, text)
    }
}

/// User text (a run's or sweep's name, read back from a store that may
/// hold anything) as the terminal may see it: control characters (ESC,
/// BEL, a carriage return...) escaped as `\u{1b}`, the rest as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |_| true)
}

/// [`printable`] for a message of several lines: newlines and tabs kept.
pub fn printable_lines(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c| c != '\n' && c != '\t')
}

/// `text` with the control characters that `escape` picks escaped.
fn escaped(text: &str, escape: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && escape(c);
    if !text.chars().any(bad) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if bad(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Whether a stream takes ANSI styles: only a terminal, and only while
/// `NO_COLOR` is not set (to a non-empty value, as no-color.org says).
pub fn styled(terminal: bool, no_color: bool) -> bool {
    terminal && !no_color
}

fn bold_if(on: bool, text: &str) -> String {
    if on {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
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
        let bar = output.progress_bar("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({eta})");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_without_no_color_is_styled() {
        assert!(styled(true, false));
        assert!(!styled(false, false));
        assert!(!styled(true, true));
        assert!(!styled(false, true));
    }

    /// Regression: stdout was styled when stderr was a terminal, so
    /// `gradscope demo > out.txt` wrote escapes into the file.
    #[test]
    fn each_stream_is_decided_on_its_own() {
        let o = Output {
            progress: true,
            stdout_styled: styled(false, false),
            stderr_styled: styled(true, false),
        };
        assert_eq!(o.bold("run"), "run");
        assert_eq!(o.bold_stderr("error:"), "\x1b[1merror:\x1b[0m");
    }
}
