//! Helpers for driving Strom with stock clients.
