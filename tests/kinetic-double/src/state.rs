//! The double's whole world: companies and their data, issued tokens,
//! the journal, injected faults and scripted install outcomes.
//!
//! Rows are kept as JSON maps in Kinetic's own field names, so what a client sends in a
//! tableset comes back in the same shape; only the keys the double reasons about (ids,
//! versions, sync state) are read out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::config::DoubleConfig;
use crate::faults::Fault;
use crate::install::InstallOutcome;
use crate::journal::Journal;
use crate::util::guid;

/// One solution (an `ExportPackage` with its `EPSolutionDetail` items).
#[derive(Debug, Clone, Default)]
pub struct Solution {
    /// The `ExportPackage` row.
    pub header: Map<String, Value>,
    /// `EPSolutionDetail` rows (`ItemType`, `TableName`, `Key1..Key3`, `Description`).
    pub items: Vec<Map<String, Value>>,
    /// `EPSolutionTracker` rows.
    pub tracked: Vec<Map<String, Value>>,
    /// `EPHistory` rows (one per build).
    pub history: Vec<Map<String, Value>>,
}

/// One UD table (`ZDataTable`) with its fields and data-model state.
#[derive(Debug, Clone)]
pub struct UdTable {
    /// The `ZDataTable` row (`SystemCode`, `DataTableID`, `Description`, `DBTableName`...).
    pub table: Map<String, Value>,
    /// `ZDataField` rows.
    pub fields: Vec<Map<String, Value>>,
    /// False after a field was added or changed, until the data model is regenerated.
    pub data_model_synced: bool,
}

impl UdTable {
    /// The table id (`Customer_UD`, `UD01`).
    pub fn id(&self) -> &str {
        self.table
            .get("DataTableID")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The system code (`Erp`, `Ice`).
    pub fn system_code(&self) -> &str {
        self.table
            .get("SystemCode")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Everything one company holds.
#[derive(Debug, Clone, Default)]
pub struct Company {
    /// Solutions by `PackageID`.
    pub solutions: BTreeMap<String, Solution>,
    /// Install history rows, oldest first.
    pub installs: Vec<Map<String, Value>>,
    /// UI layers visible in this company. Each row names its owner in `Company`: normally this
    /// company, but a layer of another company (`T_EPIC07`, `""` for all companies) can sit here
    /// too, as on a shared Kinetic server, and then conflicts with an install of the same layer.
    pub layers: Vec<Map<String, Value>>,
    /// UD tables.
    pub ud_tables: Vec<UdTable>,
    /// BAQ rows (`QueryHdr`).
    pub baqs: Vec<Value>,
    /// Method directive rows (`BpDirective`).
    pub directives: Vec<Value>,
    /// EFx library rows.
    pub libraries: Vec<Value>,
    /// `UserFile` rows.
    pub user_files: Vec<Value>,
    /// Server files by `(folder, serverPath)`.
    pub files: BTreeMap<(i64, String), Vec<u8>>,
}

impl Company {
    /// The UD table with this id (case-insensitive), if any.
    pub fn ud_table(&self, id: &str) -> Option<&UdTable> {
        self.ud_tables
            .iter()
            .find(|t| t.id().eq_ignore_ascii_case(id))
    }

    /// The UD table with this id, mutable.
    pub fn ud_table_mut(&mut self, id: &str) -> Option<&mut UdTable> {
        self.ud_tables
            .iter_mut()
            .find(|t| t.id().eq_ignore_ascii_case(id))
    }
}

/// The shared state behind one double.
#[derive(Debug)]
pub struct State {
    /// What the double was started with.
    pub config: DoubleConfig,
    /// Companies by id.
    pub companies: BTreeMap<String, Company>,
    /// Application ids known to `GetApplications` beyond those that have layers.
    pub apps: Vec<String>,
    /// Issued bearer tokens and when they expire.
    pub tokens: HashMap<String, Instant>,
    /// The request journal.
    pub journal: Journal,
    /// Injected faults, matched in order.
    pub faults: Vec<Fault>,
    /// Scripted outcomes for the next `Install` calls, first one next.
    pub install_script: VecDeque<(Option<String>, InstallOutcome)>,
    counter: u64,
}

impl State {
    /// A fresh world for this configuration, seeded when `config.seed` is set.
    pub fn new(config: DoubleConfig) -> Self {
        let mut state = Self {
            companies: BTreeMap::new(),
            apps: Vec::new(),
            tokens: HashMap::new(),
            journal: Journal::default(),
            faults: Vec::new(),
            install_script: VecDeque::new(),
            counter: 0,
            config,
        };
        state.reset_data();
        state
    }

    /// Back to the configured companies and fixtures (tokens, faults and scripts too); the
    /// journal is kept.
    pub fn reset_data(&mut self) {
        self.counter = 0;
        self.companies = self
            .config
            .companies
            .iter()
            .map(|id| (id.clone(), Company::default()))
            .collect();
        self.apps.clear();
        self.tokens.clear();
        self.faults.clear();
        self.install_script.clear();
        if self.config.seed {
            crate::fixtures::seed(self);
        }
    }

    /// A fresh number for `SysRevID`s and GUIDs.
    pub fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// The canonical id of a company the double serves (ids match case-insensitively).
    pub fn company_id(&self, id: &str) -> Option<String> {
        self.companies
            .keys()
            .find(|k| k.eq_ignore_ascii_case(id))
            .cloned()
    }

    /// The company's data; the id must be canonical (see [`State::company_id`]).
    pub fn company_mut(&mut self, id: &str) -> Option<&mut Company> {
        self.companies.get_mut(id)
    }

    /// A row with the bookkeeping fields every Kinetic row carries.
    pub fn row(&mut self, fields: Value) -> Map<String, Value> {
        let mut row = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.stamp(&mut row);
        row.insert("BitFlag".into(), json!(0));
        row.insert("RowMod".into(), json!(""));
        row
    }

    /// Gives a row a new `SysRevID` (and a `SysRowID` when it has none), as a save does.
    pub fn stamp(&mut self, row: &mut Map<String, Value>) {
        let n = self.next_id();
        let has_id = row
            .get("SysRowID")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && !s.starts_with("00000000-0000-0000"));
        if !has_id {
            row.insert("SysRowID".into(), json!(guid(n)));
        }
        row.insert("SysRevID".into(), json!(n));
        row.insert("RowMod".into(), json!(""));
    }
}
