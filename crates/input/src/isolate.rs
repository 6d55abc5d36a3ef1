//! Runs code of a dependency that may panic on hostile input (the Parquet and Arrow readers)
//! so that a panic becomes that source's error instead of ending the run.
//!
//! A caught panic is not printed by the default hook: its message and location become the
//! error's text, which names the file. Panics anywhere else still reach the previous hook.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it is returned as `Err(message at file:line)`.
///
/// Only use this around code that touches no state of ours that a panic could leave half
/// changed: whatever `f` builds is dropped with it.
pub(crate) fn isolate<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() {
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", short(l.file()), l.line()))
                    .unwrap_or_default();
                CAUGHT.set(Some(format!("{payload}{at}")));
            } else {
                previous(info);
            }
        }));
    });
    let outer = CATCHING.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(outer);
    result.map_err(|_| CAUGHT.take().unwrap_or_else(|| "a panic".to_owned()))
}

/// A dependency's path from its crate's directory on (`parquet-60.1.0/src/…`), without the
/// registry's location on this machine.
fn short(file: &str) -> &str {
    file.split_once(".crates.io-")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(file, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_location() {
        let caught = isolate(|| -> u32 { panic!("index out of bounds") });
        let message = caught.expect_err("the panic is caught");
        assert!(message.starts_with("index out of bounds at "), "{message}");
        assert!(message.contains("isolate.rs"), "{message}");
        assert_eq!(isolate(|| 7), Ok(7));
    }
}
