//! What the benchmarks share: the holder's and the employee's paths walked in process
//! ([`walk`]), and the DynamoDB capacity meter ([`meter`]).

pub mod meter;
pub mod walk;
