//! One trait per slot, and the macros that export an implementation.
//!
//! Every trait has a default [`command`](StatePack::command) method for the
//! CLI commands declared in `pack.toml`; override it when you declare any.

use crate::{Args, Error, Output};

fn no_command(name: &str) -> Result<Output, Error> {
    Err(Error::invalid_input(format!(
        "this pack declares no command {name:?}"
    )))
}

#[doc(hidden)]
pub fn __no_command(name: &str) -> Result<Output, Error> {
    no_command(name)
}

/// Types of the `state` slot.
///
/// ```
/// use envpack_sdk::state::{Entry, Expect};
/// let entry = Entry { value: b"v".to_vec(), generation: 1 };
/// let next = Expect::Generation(entry.generation); // write only over this one
/// # let _ = next;
/// ```
pub mod state {
    pub use crate::__wit::state::exports::greentic::envpack::state::{Entry, Expect};
    use crate::Error;

    /// Checks a compare-and-swap condition against the generation currently
    /// stored under `key` (`None` when absent), returning the `conflict`
    /// error the WIT contract specifies when it does not hold.
    ///
    /// ```
    /// use envpack_sdk::state::{check_expect, Expect};
    /// assert!(check_expect("k", None, Some(&Expect::Absent)).is_ok());
    /// assert!(check_expect("k", Some(2), Some(&Expect::Generation(1))).is_err());
    /// assert!(check_expect("k", Some(2), None).is_ok());
    /// ```
    pub fn check_expect(
        key: &str,
        current: Option<u64>,
        expect: Option<&Expect>,
    ) -> Result<(), Error> {
        match (expect, current) {
            (None, _) | (Some(Expect::Absent), None) => Ok(()),
            (Some(Expect::Generation(want)), Some(found)) if *want == found => Ok(()),
            (Some(Expect::Absent), Some(found)) => Err(Error::conflict(format!(
                "key {key:?} already exists at generation {found}"
            ))),
            (Some(Expect::Generation(want)), found) => Err(Error::conflict(format!(
                "key {key:?} is at generation {}, not {want}",
                found.map_or_else(|| "none (absent)".to_string(), |g| g.to_string())
            ))),
        }
    }
}

/// Types of the `telemetry` slot.
///
/// ```
/// use envpack_sdk::{Level, clock, telemetry::Event};
/// let event = Event {
///     name: "sync.done".into(),
///     level: Level::Info,
///     timestamp_ms: clock::now_ms(),
///     attributes: vec![("items".into(), "12".into())],
/// };
/// assert_eq!(event.level.to_string(), "info");
/// ```
pub mod telemetry {
    pub use crate::__wit::telemetry::exports::greentic::envpack::telemetry::Event;
}

/// Types of the `deployer` slot.
///
/// ```
/// use envpack_sdk::deployer::TargetInfo;
/// let info = TargetInfo {
///     target: "vm".into(),
///     description: "one VM per revision".into(),
///     supports_traffic_split: false,
///     supports_observe: true,
///     max_live_revisions: Some(2),
///     attributes: vec![],
/// };
/// # let _ = info;
/// ```
pub mod deployer {
    pub use crate::__wit::deployer::exports::greentic::envpack::deployer::{
        ApplyReport, Bundle, BundleFile, Change, Check, DeployPlan as Plan, HealthReport,
        HealthStatus, ObservedRevision, PlanStep, Revision, SourceKind, StepResult, TargetInfo,
        TrafficReport, TrafficWeight,
    };
}

/// A `state` slot pack: durable key/value storage with compare-and-swap.
/// Export it with [`export_state!`](crate::export_state).
///
/// Trait methods are plain Rust, so pack logic can be called directly (in a
/// unit test, for instance):
///
/// ```
/// use envpack_sdk::StatePack;
/// fn key_count(pack: &impl StatePack) -> usize {
///     pack.list(String::new()).map_or(0, |keys| keys.len())
/// }
/// ```
pub trait StatePack: Default + 'static {
    /// The entry under `key`, or `None`.
    fn get(&self, key: String) -> Result<Option<state::Entry>, Error>;
    /// Writes when `expect` holds and returns the new generation (see
    /// [`state::check_expect`]).
    fn put(&self, key: String, value: Vec<u8>, expect: Option<state::Expect>)
    -> Result<u64, Error>;
    /// Removes `key` when `expect` holds; `true` when it existed.
    fn delete(&self, key: String, expect: Option<state::Expect>) -> Result<bool, Error>;
    /// Keys starting with `prefix`, sorted.
    fn list(&self, prefix: String) -> Result<Vec<String>, Error>;
    /// Runs a command declared in `pack.toml`.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        let _ = args;
        no_command(name)
    }
}

/// A `secrets` slot pack. Export it with
/// [`export_secrets!`](crate::export_secrets).
///
/// ```
/// use envpack_sdk::{Error, SecretsPack};
/// #[derive(Default)]
/// struct Env;
/// impl SecretsPack for Env {
///     fn get(&self, name: String) -> Result<Option<String>, Error> { Ok((name == "A").then(|| "1".into())) }
///     fn put(&self, _: String, _: String) -> Result<(), Error> { Err(Error::denied("read-only")) }
///     fn delete(&self, _: String) -> Result<bool, Error> { Err(Error::denied("read-only")) }
///     fn list(&self) -> Result<Vec<String>, Error> { Ok(vec!["A".into()]) }
/// }
/// assert_eq!(Env.get("A".into())?, Some("1".to_string()));
/// # Ok::<(), Error>(())
/// ```
pub trait SecretsPack: Default + 'static {
    /// The secret's value, or `None`.
    fn get(&self, name: String) -> Result<Option<String>, Error>;
    /// Creates or replaces a secret.
    fn put(&self, name: String, value: String) -> Result<(), Error>;
    /// Removes a secret; `true` when it existed.
    fn delete(&self, name: String) -> Result<bool, Error>;
    /// Secret names, sorted. Never values.
    fn list(&self) -> Result<Vec<String>, Error>;
    /// Runs a command declared in `pack.toml`.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        let _ = args;
        no_command(name)
    }
}

/// A `telemetry` slot pack. Export it with
/// [`export_telemetry!`](crate::export_telemetry).
///
/// ```
/// use envpack_sdk::{Error, TelemetryPack, telemetry::Event};
/// #[derive(Default)]
/// struct Stderr;
/// impl TelemetryPack for Stderr {
///     fn emit(&self, events: Vec<Event>) -> Result<(), Error> {
///         for e in events {
///             eprintln!("{} {} {}", e.timestamp_ms, e.level, e.name);
///         }
///         Ok(())
///     }
/// }
/// assert!(Stderr.flush().is_ok());
/// ```
pub trait TelemetryPack: Default + 'static {
    /// Records events, in order.
    fn emit(&self, events: Vec<telemetry::Event>) -> Result<(), Error>;
    /// Delivers everything emitted so far. The default does nothing, for
    /// packs that write through.
    fn flush(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Runs a command declared in `pack.toml`.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        let _ = args;
        no_command(name)
    }
}

/// A `deployer` slot pack. Export it with
/// [`export_deployer!`](crate::export_deployer).
///
/// The generated `envpack pack new NAME --slot deployer` crate is a complete
/// example; `docs/pack-author-guide.md` ("Writing a deployer") has the
/// rules. The defaults can be called like any method:
///
/// ```no_run
/// use envpack_sdk::DeployerPack;
/// fn live(pack: &impl DeployerPack) -> usize {
///     pack.observe("dev".into()).map_or(0, |r| r.len())
/// }
/// ```
pub trait DeployerPack: Default + 'static {
    /// What the target supports.
    fn describe(&self) -> deployer::TargetInfo;
    /// Plans a revision; must have no side effects.
    fn plan(
        &self,
        revision: deployer::Revision,
        bundle: deployer::Bundle,
    ) -> Result<deployer::Plan, Error>;
    /// Applies exactly the plan returned by [`plan`](Self::plan).
    fn apply(
        &self,
        revision: deployer::Revision,
        bundle: deployer::Bundle,
        plan: deployer::Plan,
    ) -> Result<deployer::ApplyReport, Error>;
    /// Health of a revision.
    fn health(&self, revision: deployer::Revision) -> Result<deployer::HealthReport, Error>;
    /// Routes traffic. The default accepts only 100% to one revision, for
    /// targets without traffic splitting.
    fn set_traffic(
        &self,
        environment: String,
        deployment: String,
        generation: u64,
        weights: Vec<deployer::TrafficWeight>,
    ) -> Result<deployer::TrafficReport, Error> {
        let _ = (environment, deployment);
        match weights.as_slice() {
            [only] if only.basis_points == 10_000 => Ok(deployer::TrafficReport {
                generation,
                applied: weights,
                message: "single revision".into(),
            }),
            _ => Err(Error::invalid_input(
                "this target cannot split traffic; route 100% to one revision",
            )),
        }
    }
    /// Stops a revision and removes what `apply` created.
    fn teardown(&self, revision: deployer::Revision) -> Result<(), Error>;
    /// What really runs. The default reports nothing.
    fn observe(&self, environment: String) -> Result<Vec<deployer::ObservedRevision>, Error> {
        let _ = environment;
        Ok(Vec::new())
    }
    /// Checks that the target can run the environment's revisions
    /// (reachable, permissions, required APIs); changes nothing. A failing
    /// check is a [`deployer::Check`] with `ok: false`; return an error only
    /// when the checks could not run. The default reports one passing check,
    /// `describe`, naming the target: override it when your target can be
    /// unreachable or misconfigured.
    fn validate(&self, environment: String) -> Result<Vec<deployer::Check>, Error> {
        let _ = environment;
        let info = self.describe();
        Ok(vec![deployer::Check {
            name: "describe".into(),
            ok: true,
            detail: format!("{}: {}", info.target, info.description),
            fix: None,
        }])
    }
    /// Creates what the environment needs before any revision (a
    /// namespace, a route), idempotently, and reports each step. The
    /// default reports nothing to do, for targets that need no set-up.
    fn prepare(&self, environment: String) -> Result<Vec<deployer::StepResult>, Error> {
        let _ = environment;
        Ok(Vec::new())
    }
    /// Removes what [`prepare`](Self::prepare) created, once every revision
    /// is torn down; idempotent. The default reports nothing to do.
    fn decommission(&self, environment: String) -> Result<Vec<deployer::StepResult>, Error> {
        let _ = environment;
        Ok(Vec::new())
    }
    /// Runs a command declared in `pack.toml`.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        let _ = args;
        no_command(name)
    }
}

/// A command-only pack: it fills no slot and contributes the CLI commands
/// declared in `pack.toml` (descriptor `namespace.command.name`), with the
/// capabilities the environment grants it. An environment binds any number
/// of them (`envpack env bind dev command acme.command.tools@^0.1`). Export
/// it with [`export_command!`](crate::export_command).
///
/// ```
/// use envpack_sdk::{Args, CommandPack, Error, Output};
/// #[derive(Default)]
/// struct Tools;
/// impl CommandPack for Tools {
///     fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
///         match name {
///             "tools greet" => Ok(Output::text(format!("hello {}", args.get("who").unwrap_or("world")))),
///             other => Err(Error::invalid_input(format!("no command {other:?}"))),
///         }
///     }
/// }
/// assert_eq!(Tools.command("tools greet", &Args::default())?.text, "hello world");
/// # Ok::<(), Error>(())
/// ```
pub trait CommandPack: Default + 'static {
    /// Runs a command declared in `pack.toml`; `invalid-input` for any
    /// other name.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error>;
}

/// Glue shared by every export macro: the command export, the per-instance
/// singleton and the version stamps.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_common {
    ($ty:ty, $slot_trait:path) => {
        ::std::thread_local! {
            static __ENVPACK_INSTANCE: $ty = <$ty as ::core::default::Default>::default();
        }
        fn __envpack_with<R>(f: impl FnOnce(&$ty) -> R) -> R {
            __ENVPACK_INSTANCE.with(f)
        }
        impl $crate::__wit::command::exports::greentic::envpack::command::Guest for __EnvpackExport {
            fn run(
                name: ::std::string::String,
                args: ::std::vec::Vec<$crate::__wit::command::exports::greentic::envpack::command::Arg>,
            ) -> ::core::result::Result<
                $crate::__wit::command::exports::greentic::envpack::command::Output,
                $crate::Error,
            > {
                let args = $crate::Args::from_pairs(args.into_iter().map(|a| (a.name, a.values)));
                let out = __envpack_with(|p| <$ty as $slot_trait>::command(p, &name, &args))?;
                Ok($crate::__wit::command::exports::greentic::envpack::command::Output {
                    text: out.text,
                    json: out.json,
                })
            }
        }
        $crate::__wit::command::__export_command_world!(__EnvpackExport with_types_in $crate::__wit::command);
        $crate::__stamp!();
    };
}

/// Exports a [`CommandPack`] implementation as the pack's component: it
/// exports `command` alone (the `command-slot` world of API 0.2.0).
///
/// ```no_run
/// # use envpack_sdk::{Args, CommandPack, Error, Output};
/// #[derive(Default)]
/// struct Tools;
/// impl CommandPack for Tools {
///     fn command(&self, name: &str, _: &Args) -> Result<Output, Error> {
///         Err(Error::invalid_input(format!("no command {name:?}")))
///     }
/// }
/// envpack_sdk::export_command!(Tools);
/// ```
#[macro_export]
macro_rules! export_command {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::CommandPack);
        };
    };
}

/// Exports a [`StatePack`] implementation as the pack's component.
///
/// ```no_run
/// # use envpack_sdk::{Error, StatePack, state::{Entry, Expect}};
/// #[derive(Default)]
/// struct Nothing;
/// impl StatePack for Nothing {
///     fn get(&self, _: String) -> Result<Option<Entry>, Error> { Ok(None) }
///     fn put(&self, _: String, _: Vec<u8>, _: Option<Expect>) -> Result<u64, Error> { Err(Error::denied("read-only")) }
///     fn delete(&self, _: String, _: Option<Expect>) -> Result<bool, Error> { Ok(false) }
///     fn list(&self, _: String) -> Result<Vec<String>, Error> { Ok(vec![]) }
/// }
/// envpack_sdk::export_state!(Nothing);
/// ```
#[macro_export]
macro_rules! export_state {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::StatePack);
            use $crate::__wit::state::exports::greentic::envpack::state as __s;
            impl __s::Guest for __EnvpackExport {
                fn get(key: ::std::string::String) -> ::core::result::Result<::core::option::Option<__s::Entry>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::StatePack>::get(p, key))
                }
                fn put(key: ::std::string::String, value: ::std::vec::Vec<u8>, expect: ::core::option::Option<__s::Expect>) -> ::core::result::Result<u64, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::StatePack>::put(p, key, value, expect))
                }
                fn delete(key: ::std::string::String, expect: ::core::option::Option<__s::Expect>) -> ::core::result::Result<bool, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::StatePack>::delete(p, key, expect))
                }
                fn list(prefix: ::std::string::String) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::StatePack>::list(p, prefix))
                }
            }
            $crate::__wit::state::__export_state_world!(__EnvpackExport with_types_in $crate::__wit::state);
        };
    };
}

/// Exports a [`SecretsPack`] implementation as the pack's component.
#[macro_export]
macro_rules! export_secrets {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::SecretsPack);
            use $crate::__wit::secrets::exports::greentic::envpack::secrets as __s;
            impl __s::Guest for __EnvpackExport {
                fn get(name: ::std::string::String) -> ::core::result::Result<::core::option::Option<::std::string::String>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::SecretsPack>::get(p, name))
                }
                fn put(name: ::std::string::String, value: ::std::string::String) -> ::core::result::Result<(), $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::SecretsPack>::put(p, name, value))
                }
                fn delete(name: ::std::string::String) -> ::core::result::Result<bool, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::SecretsPack>::delete(p, name))
                }
                fn list() -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::SecretsPack>::list(p))
                }
            }
            $crate::__wit::secrets::__export_secrets_world!(__EnvpackExport with_types_in $crate::__wit::secrets);
        };
    };
}

/// Exports a [`TelemetryPack`] implementation as the pack's component.
#[macro_export]
macro_rules! export_telemetry {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::TelemetryPack);
            use $crate::__wit::telemetry::exports::greentic::envpack::telemetry as __s;
            impl __s::Guest for __EnvpackExport {
                fn emit(events: ::std::vec::Vec<__s::Event>) -> ::core::result::Result<(), $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::TelemetryPack>::emit(p, events))
                }
                fn flush() -> ::core::result::Result<(), $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::TelemetryPack>::flush(p))
                }
            }
            $crate::__wit::telemetry::__export_telemetry_world!(__EnvpackExport with_types_in $crate::__wit::telemetry);
        };
    };
}

/// Exports a [`DeployerPack`] implementation as the pack's component.
#[macro_export]
macro_rules! export_deployer {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::DeployerPack);
            use $crate::__wit::deployer::exports::greentic::envpack::deployer as __s;
            impl __s::Guest for __EnvpackExport {
                fn describe() -> __s::TargetInfo {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::describe(p))
                }
                fn plan(revision: __s::Revision, bundle: __s::Bundle) -> ::core::result::Result<__s::DeployPlan, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::plan(p, revision, bundle))
                }
                fn apply(revision: __s::Revision, bundle: __s::Bundle, plan: __s::DeployPlan) -> ::core::result::Result<__s::ApplyReport, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::apply(p, revision, bundle, plan))
                }
                fn health(revision: __s::Revision) -> ::core::result::Result<__s::HealthReport, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::health(p, revision))
                }
                fn set_traffic(environment: ::std::string::String, deployment: ::std::string::String, generation: u64, weights: ::std::vec::Vec<__s::TrafficWeight>) -> ::core::result::Result<__s::TrafficReport, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::set_traffic(p, environment, deployment, generation, weights))
                }
                fn teardown(revision: __s::Revision) -> ::core::result::Result<(), $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::teardown(p, revision))
                }
                fn observe(environment: ::std::string::String) -> ::core::result::Result<::std::vec::Vec<__s::ObservedRevision>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::observe(p, environment))
                }
                fn validate(environment: ::std::string::String) -> ::core::result::Result<::std::vec::Vec<__s::Check>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::validate(p, environment))
                }
                fn prepare(environment: ::std::string::String) -> ::core::result::Result<::std::vec::Vec<__s::StepResult>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::prepare(p, environment))
                }
                fn decommission(environment: ::std::string::String) -> ::core::result::Result<::std::vec::Vec<__s::StepResult>, $crate::Error> {
                    __envpack_with(|p| <$ty as $crate::DeployerPack>::decommission(p, environment))
                }
            }
            $crate::__wit::deployer::__export_deployer_world!(__EnvpackExport with_types_in $crate::__wit::deployer);
        };
    };
}
