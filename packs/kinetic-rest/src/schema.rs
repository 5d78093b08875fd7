//! UD columns (`Ice.BO.ZDataTableSvc`): a declared table spec compared with
//! the target (missing, extra and drifted fields, plus the data-model sync
//! state), and applied as creates and updates.

pub mod apply;
pub mod diff;
pub mod spec;
pub mod xml;

/// The service.
pub const SVC: &str = "Ice.BO.ZDataTableSvc";
