//! Hashes every file under a directory the way `envpack observe` hashes a
//! local revision's payload, and prints one `sha256  path` line per file
//! (the format of `sha256sum`), for `scripts/bench-observe-hash`.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: hash_payload DIR");
        std::process::exit(2);
    };
    let digests = envpack_host::truth::observe::file_digests(std::path::Path::new(&dir));
    let mut out = String::new();
    for (path, sha) in &digests {
        out.push_str(&format!("{sha}  {path}\n"));
    }
    print!("{out}");
}
