//! `ioready._ioready`: the extension module of the `ioready` Python package.
//!
//! It holds two siblings over the same raw-CPython layer and the same Rust
//! library, neither importing the other:
//!
//! * [`select`]: CPython 3.11's `select` module for Linux (`select()`,
//!   `poll`, `epoll`, `error`, the constants), re-exported by the drop-in
//!   module `ioready.select`;
//! * [`aio`]: ioready's asyncio event loop, natively (`LoopCore`, `Handle`,
//!   `TimerHandle`, `SelectorView`), which `ioready.EventLoop` is built on;
//! * every raw CPython call, apart ([`ffi`], orjson's layout).
//!
//! This file only declares and registers (pydantic-core's layout).

mod aio;
mod ffi;
mod select;

use pyo3::prelude::*;

/// ioready's native parts: the `select` API (re-exported by
/// `ioready.select`) and the event loop's core (used by `ioready.EventLoop`).
#[pymodule]
fn _ioready(m: &Bound<'_, PyModule>) -> PyResult<()> {
    select::register(m)?;
    aio::register(m)?;
    Ok(())
}
