//! Calling any export by a WAVE expression, for `envpack pack call`:
//! `get("greeting")`, `put("greeting", [104, 105], none)`,
//! `command.run("memory stats", [])`.
//!
//! Values are written and printed in WAVE, the WebAssembly Value Encoding
//! (the same syntax as `wasmtime run --invoke`), so every WIT type can be
//! given and shown without special cases.

use wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::{Type, Val};

use super::PackInstance;
use crate::error::{Error, Result};

impl PackInstance {
    /// Calls the export named in `expr` with its arguments, returning the
    /// results in WAVE. `expr` names a function of the pack's slot interface
    /// (or `command.run`); `interface.function` picks an interface
    /// explicitly.
    pub fn call_wave(&mut self, expr: &str) -> Result<String> {
        let call = UntypedFuncCall::parse(expr).map_err(|e| {
            Error::invalid(format!("cannot parse call {expr:?}: {e}")).hint(
                "write calls in WAVE, e.g. 'get(\"key\")' or 'put(\"key\", [104, 105], none)'",
            )
        })?;
        let slot = self.label().descriptor.slot().to_string();
        let (iface, func) = match call.name().split_once('.') {
            Some((i, f)) => (i.to_string(), f.to_string()),
            None => (slot.clone(), call.name().to_string()),
        };
        let version = self.api_version();
        let iface_name = version.interface(&iface);
        let (calls, instance) = self.raw();
        let instance = *instance;
        let store = calls.store_mut();
        let func_handle = instance
            .get_export_index(&mut *store, None, &iface_name)
            .and_then(|ix| instance.get_export_index(&mut *store, Some(&ix), &func))
            .and_then(|ix| instance.get_func(&mut *store, ix))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "the pack exports no function {func:?} in {iface_name}"
                ))
                .hint(format!(
                    "see wit/v{version} for the {slot} interface's functions, or call command.run"
                ))
            })?;
        let ty = func_handle.ty(&*store);
        let param_types: Vec<Type> = ty.params().map(|(_, t)| t).collect();
        let params: Vec<Val> = call.to_wasm_params(param_types.iter()).map_err(|e| {
            Error::invalid(format!(
                "arguments of {func:?} do not fit its signature: {e}"
            ))
        })?;
        let mut results = vec![Val::Bool(false); ty.results().len()];
        let op = format!("{iface}.{func}");
        calls.call(&op, |store| {
            func_handle.call(&mut *store, &params, &mut results)?;
            Ok(Ok(()))
        })?;
        let rendered: Vec<String> = results
            .iter()
            .map(|v| wasm_wave::to_string(v).unwrap_or_else(|e| format!("<unprintable: {e}>")))
            .collect();
        let out = rendered.join(", ");
        calls.check_output(&op, out.len())?;
        Ok(out)
    }
}
