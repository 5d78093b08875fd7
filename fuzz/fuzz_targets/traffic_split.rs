//! `cargo +nightly fuzz run traffic_split`: see `envpack_fuzz::traffic_split` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::traffic_split(data);
});
