//! (being written)

/// Migration step 4.
pub const SCHEMA: &str = "SELECT 1";
