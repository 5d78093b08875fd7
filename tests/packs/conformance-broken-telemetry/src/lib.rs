//! `acme.telemetry.broken`: a correct telemetry pack printing one line per
//! event on stdout (like `greentic.telemetry.stdout`), with one deliberate
//! bug chosen by the config key `bug`, so `envpack pack test` can be shown
//! to fail exactly the case of the rule broken:
//!
//! | `bug`           | what it does wrong                                          | failing case         |
//! |-----------------|-------------------------------------------------------------|----------------------|
//! | `reject-trace`  | emit refuses a batch holding a trace event                  | `levels-accepted` (the three cases that need its output are skipped) |
//! | `empty-fails`   | emit of no events is an error                               | `empty-batch`        |
//! | `reverse-batch` | a batch's events are printed last first                     | `emit-order`         |
//! | `hold-singles`  | a batch of one event is held until flush, newest printed first | `order-across-emits` |
//! | `drop-debug`    | debug events are dropped, trace ones printed                | `levels-keep-severe` |

use std::cell::RefCell;

use envpack_sdk::telemetry::Event;
use envpack_sdk::{Error, Level, TelemetryPack, config};

fn bug(name: &str) -> bool {
    config::get("bug").ok().flatten().as_deref() == Some(name)
}

fn print(e: &Event) {
    println!("{} {} {}", e.timestamp_ms, e.level, e.name);
}

#[derive(Default)]
struct Broken {
    /// Single events held by `hold-singles`.
    held: RefCell<Vec<Event>>,
}

impl TelemetryPack for Broken {
    fn emit(&self, mut events: Vec<Event>) -> Result<(), Error> {
        if events.is_empty() && bug("empty-fails") {
            return Err(Error::invalid_input("no events to emit"));
        }
        if bug("reject-trace") && events.iter().any(|e| e.level == Level::Trace) {
            return Err(Error::invalid_input("trace events are not accepted"));
        }
        if bug("hold-singles") && events.len() == 1 {
            self.held.borrow_mut().append(&mut events);
            return Ok(());
        }
        if bug("reverse-batch") {
            events.reverse();
        }
        for e in events
            .iter()
            .filter(|e| !(bug("drop-debug") && e.level == Level::Debug))
        {
            print(e);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), Error> {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for e in held.iter().rev() {
            print(e);
        }
        Ok(())
    }
}

envpack_sdk::export_telemetry!(Broken);
