//! Generated bindings. Not part of the public API: use the traits, macros and
//! helper modules at the crate root instead.
#![allow(missing_docs, clippy::all)]

/// `wit_bindgen::generate!`, adding serde's derives to every generated
/// record, variant and enum when the `serde` feature is on.
macro_rules! generate {
    ({ $($body:tt)* }) => {
        #[cfg(feature = "serde")]
        wit_bindgen::generate!({
            $($body)*
            additional_derives: [::serde::Serialize, ::serde::Deserialize],
        });
        #[cfg(not(feature = "serde"))]
        wit_bindgen::generate!({ $($body)* });
    };
}

// The host imports, generated once and shared by every slot world below.
generate!({
    path: "wit/v0.2.0",
    world: "pack-host",
    generate_all,
});

macro_rules! slot_world {
    ($module:ident, $world:literal, $macro_name:literal, $bindings:literal) => {
        pub mod $module {
            generate!({
                path: "wit/v0.2.0",
                world: $world,
                with: {
                    "greentic:envpack/types@0.2.0": crate::__wit::greentic::envpack::types,
                    "greentic:envpack/log@0.2.0": crate::__wit::greentic::envpack::log,
                    "greentic:envpack/config@0.2.0": crate::__wit::greentic::envpack::config,
                    "greentic:envpack/kv@0.2.0": crate::__wit::greentic::envpack::kv,
                    "greentic:envpack/secrets-access@0.2.0": crate::__wit::greentic::envpack::secrets_access,
                    "greentic:envpack/process@0.2.0": crate::__wit::greentic::envpack::process,
                },
                pub_export_macro: true,
                export_macro_name: $macro_name,
                default_bindings_module: $bindings,
            });
        }
    };
}

slot_world!(
    command,
    "command-slot",
    "__export_command_world",
    "envpack_sdk::__wit::command"
);
slot_world!(
    state,
    "state-slot",
    "__export_state_world",
    "envpack_sdk::__wit::state"
);
slot_world!(
    secrets,
    "secrets-slot",
    "__export_secrets_world",
    "envpack_sdk::__wit::secrets"
);
slot_world!(
    telemetry,
    "telemetry-slot",
    "__export_telemetry_world",
    "envpack_sdk::__wit::telemetry"
);
slot_world!(
    deployer,
    "deployer-slot",
    "__export_deployer_world",
    "envpack_sdk::__wit::deployer"
);
slot_world!(
    kinetic,
    "kinetic-slot",
    "__export_kinetic_world",
    "envpack_sdk::__wit::kinetic"
);
