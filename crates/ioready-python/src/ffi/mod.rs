//! Raw CPython: every call into the C API that PyO3 does not wrap for us,
//! kept apart from the logic (orjson's `src/ffi/`).
//!
//! The rest of the crate calls these safe functions and holds no `unsafe`
//! block for the Python API; the `unsafe` left outside this module is about
//! descriptors (`epoll.rs`).
//!
//! * [`attrs`]: an instance's own dictionary, without a lookup through
//!   its class;
//! * [`call`]: the raw `METH_FASTCALL` entry points (`select()`,
//!   `poll.poll()`) and the function and method objects made from them;
//! * [`gil`]: the GIL released around a wait;
//! * [`kwcall`]: raw methods with keyword arguments (`METH_FASTCALL |
//!   METH_KEYWORDS`), for the loop's scheduling methods;
//! * [`buffer`]: the buffer protocol (bytes-like objects' memory);
//! * [`build`]: result lists and tuples, built in place;
//! * [`context`]: `contextvars` (copy, run a callback in a context);
//! * [`gc`]: a raw `tp_traverse` for the classes made per callback;
//! * [`convert`]: CPython's own argument conversions (ints, descriptors,
//!   sequences).

pub(crate) mod attrs;
pub(crate) mod buffer;
pub(crate) mod build;
pub(crate) mod call;
pub(crate) mod context;
pub(crate) mod convert;
#[cfg(not(Py_LIMITED_API))]
pub(crate) mod gc;
pub(crate) mod gil;
#[cfg(any(not(Py_LIMITED_API), Py_3_10))]
pub(crate) mod kwcall;
