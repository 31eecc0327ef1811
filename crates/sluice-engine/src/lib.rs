//! The engine: executor, scheduler, timers and drivers that call user functions.

pub mod driver;
