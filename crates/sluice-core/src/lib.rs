//! The pure heart of Sluice: domain types, the run state machine and the arithmetic around it.
//!
//! Nothing in this crate does I/O or reads the wall clock; time arrives as an argument.

pub mod backoff;
pub mod cron;
pub mod duration;
pub mod event;
pub mod expr;
pub mod function;
pub mod opcode;
pub mod run;
pub mod sign;
pub mod stepid;
