//! (being written)

/// Migration step 3.
pub const SCHEMA: &str = "SELECT 1";
