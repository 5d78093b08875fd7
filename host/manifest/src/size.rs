//! How big a pack is to compile: the limits checked before compiling it.
//!
//! Compile time and memory grow with the number of functions, not with the
//! file's size: a 1.5 MB component of 40,000 tiny functions took seconds and
//! hundreds of MiB to compile. The host refuses packs over
//! [`MAX_FUNCTIONS`] functions or [`MAX_PACK_BYTES`] bytes before compiling.

use wasmparser::{Parser, Payload};

/// Largest pack file, in bytes.
pub const MAX_PACK_BYTES: usize = 64 << 20;

/// Most functions (bodies, over every core module) a pack may define.
pub const MAX_FUNCTIONS: u64 = 25_000;

/// What a pack holds, for the limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackShape {
    /// Function bodies over every core module.
    pub functions: u64,
    /// Core modules.
    pub modules: u64,
}

/// Counts `bytes`' functions and modules without compiling anything.
pub fn shape(bytes: &[u8]) -> Result<PackShape, wasmparser::BinaryReaderError> {
    let mut shape = PackShape::default();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::CodeSectionStart { count, .. } => shape.functions += u64::from(count),
            Payload::ModuleSection { .. } => shape.modules += 1,
            _ => {}
        }
    }
    Ok(shape)
}

/// Why a pack is too big to compile, if it is.
pub fn too_big(bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_PACK_BYTES {
        return Some(format!(
            "it is {} MiB; the limit is {} MiB",
            bytes.len() >> 20,
            MAX_PACK_BYTES >> 20
        ));
    }
    match shape(bytes) {
        Ok(s) if s.functions > MAX_FUNCTIONS => Some(format!(
            "it defines {} functions; the limit is {MAX_FUNCTIONS}",
            s.functions
        )),
        Ok(_) => None,
        Err(e) => Some(format!("it is not a readable WebAssembly file: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_of(functions: usize) -> Vec<u8> {
        use wasm_encoder::{CodeSection, Function, FunctionSection, Module, TypeSection};
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for _ in 0..functions {
            funcs.function(0);
            let mut body = Function::new([]);
            body.instructions().end();
            code.function(&body);
        }
        let mut module = Module::new();
        module.section(&types).section(&funcs).section(&code);
        module.finish()
    }

    #[test]
    fn counts_functions_and_refuses_too_many() {
        assert_eq!(shape(&module_of(3)).expect("shape").functions, 3);
        assert_eq!(too_big(&module_of(10)), None);
        let big = too_big(&module_of(MAX_FUNCTIONS as usize + 1)).expect("refused");
        assert!(big.contains("25001 functions"), "{big}");
        assert!(too_big(b"\0asm\x01\0\0\0garbage").is_some());
    }
}
