//! Building packs.
