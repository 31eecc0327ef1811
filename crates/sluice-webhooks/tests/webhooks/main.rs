//! Integration tests for sluice-webhooks: the shared signature vectors, signatures made by the
//! senders' own libraries, and the whole `process` pipeline on the Clerk fixtures.

mod npm;
mod process;
mod support;
mod vectors;
