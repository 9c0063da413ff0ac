//! `call_soon`, `call_soon_threadsafe`, `call_later` and `call_at` as raw
//! vector calls (`ffi::kwcall`), installed over `LoopCore`'s PyO3 methods
//! of the same names where the calling convention exists: no argument
//! tuple, no keyword dict, no generic argument parsing; the callback's own
//! arguments go into the handle as they came (`CallArgs`). The PyO3
//! methods stay for the stable ABI of 3.9 and behave the same.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use pyo3::Borrowed;

use super::callargs::CallArgs;
use super::core::LoopCore;
use super::handle::Handle;
use crate::ffi::kwcall::{install, Args, Keywords, KwMethodDef, RawKwMethod};

/// The `context=` keyword, the only one these methods take.
fn context_kw<'py>(
    kwargs: &Keywords<'_, 'py>,
    method: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut context = None;
    kwargs.for_each(|name, value| {
        let name = name.downcast::<PyString>()?;
        if name.to_str()? != "context" {
            return Err(PyTypeError::new_err(format!(
                "{method}() got an unexpected keyword argument '{name}'"
            )));
        }
        context = Some(value).filter(|c| !c.is_none());
        Ok(())
    })?;
    Ok(context)
}

fn missing(method: &str, names: &[&str]) -> PyErr {
    let list = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(" and ");
    let s = if names.len() == 1 { "" } else { "s" };
    PyTypeError::new_err(format!(
        "{method}() missing {} required positional argument{s}: {list}",
        names.len()
    ))
}

/// The `N` required positional arguments of `method` (named `names`), the
/// callback's own arguments after them, and the `context=` keyword; asyncio's
/// `TypeError` naming the missing ones, or an unexpected keyword. Inlined:
/// the same length check the callers' slice patterns made.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn parse<'a, 'py, const N: usize>(
    args: Args<'a, 'py>,
    kwargs: &Keywords<'_, 'py>,
    method: &str,
    names: [&str; N],
) -> PyResult<(
    [Borrowed<'a, 'py, PyAny>; N],
    Args<'a, 'py>,
    Option<Bound<'py, PyAny>>,
)> {
    let Some((head, rest)) = args.split_first::<N>() else {
        return Err(missing(method, &names[args.len()..]));
    };
    Ok((head, rest, context_kw(kwargs, method)?))
}

/// What `call_soon` and `call_soon_threadsafe` share: the arguments
/// parsed, the loop checked, the handle made and queued. `same_thread` is
/// passed on to the debug-mode checks (`call_soon`'s thread check).
#[inline(always)]
fn soon<'py>(
    py: Python<'py>,
    slf: &Bound<'py, LoopCore>,
    args: Args<'_, 'py>,
    kwargs: Keywords<'_, 'py>,
    method: &str,
    same_thread: bool,
) -> PyResult<Bound<'py, Handle>> {
    let ([callback], rest, context) = parse(args, &kwargs, method, ["callback"])?;
    let callback = Borrowed::to_owned(callback);
    let this = slf.get();
    this.check_closed()?;
    if this.debug() {
        LoopCore::debug_checks(slf, &callback, method, same_thread)?;
    }
    let args = CallArgs::from_args(py, rest)?;
    LoopCore::push_soon(slf, &callback, args, context.as_ref())
}

fn core<'py>(slf: Borrowed<'_, 'py, PyAny>) -> Bound<'py, LoopCore> {
    // SAFETY: CPython calls a method descriptor only with an instance of
    // the class it was made for (`LoopCore`) or of a subclass.
    unsafe { Borrowed::to_owned(slf).downcast_into_unchecked::<LoopCore>() }
}

struct CallSoon;

impl RawKwMethod for CallSoon {
    const NAME: &'static std::ffi::CStr = c"call_soon";
    const DOC: &'static std::ffi::CStr = c"call_soon($self, callback, *args, context=None)\n--\n\nSchedules `callback(*args)` to run soon, in `context`.";

    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
        kwargs: Keywords<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let slf = core(slf);
        Ok(soon(py, &slf, args, kwargs, "call_soon", true)?.into_any())
    }
}

struct CallSoonThreadsafe;

impl RawKwMethod for CallSoonThreadsafe {
    const NAME: &'static std::ffi::CStr = c"call_soon_threadsafe";
    const DOC: &'static std::ffi::CStr = c"call_soon_threadsafe($self, callback, *args, context=None)\n--\n\nAs `call_soon`, from any thread: wakes the loop if it is waiting.";

    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
        kwargs: Keywords<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let slf = core(slf);
        let handle = soon(py, &slf, args, kwargs, "call_soon_threadsafe", false)?;
        slf.get().wake_if_sleeping(py)?;
        Ok(handle.into_any())
    }
}

struct CallLater;

impl RawKwMethod for CallLater {
    const NAME: &'static std::ffi::CStr = c"call_later";
    const DOC: &'static std::ffi::CStr = c"call_later($self, delay, callback, *args, context=None)\n--\n\nSchedules `callback(*args)` after `delay` seconds.";

    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
        kwargs: Keywords<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let slf = core(slf);
        let ([delay, callback], rest, context) =
            parse(args, &kwargs, "call_later", ["delay", "callback"])?;
        if delay.is_none() {
            return Err(PyTypeError::new_err("delay must not be None"));
        }
        let delay: f64 = delay.extract()?;
        let callback = Borrowed::to_owned(callback);
        let args = CallArgs::from_args(py, rest)?;
        let when = LoopCore::now(&slf)? + delay;
        Ok(LoopCore::schedule_at(&slf, when, None, &callback, args, context.as_ref())?.into_any())
    }
}

struct CallAt;

impl RawKwMethod for CallAt {
    const NAME: &'static std::ffi::CStr = c"call_at";
    const DOC: &'static std::ffi::CStr = c"call_at($self, when, callback, *args, context=None)\n--\n\nSchedules `callback(*args)` at `when`, on the loop's clock.";

    fn call<'py>(
        py: Python<'py>,
        slf: Borrowed<'_, 'py, PyAny>,
        args: Args<'_, 'py>,
        kwargs: Keywords<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let slf = core(slf);
        let ([when, callback], rest, context) =
            parse(args, &kwargs, "call_at", ["when", "callback"])?;
        if when.is_none() {
            return Err(PyTypeError::new_err("when cannot be None"));
        }
        let when = Borrowed::to_owned(when);
        let when_f: f64 = when.extract()?;
        let callback = Borrowed::to_owned(callback);
        let args = CallArgs::from_args(py, rest)?;
        Ok(
            LoopCore::schedule_at(&slf, when_f, Some(&when), &callback, args, context.as_ref())?
                .into_any(),
        )
    }
}

static CALL_SOON: KwMethodDef = KwMethodDef::of::<CallSoon>();
static CALL_SOON_THREADSAFE: KwMethodDef = KwMethodDef::of::<CallSoonThreadsafe>();
static CALL_LATER: KwMethodDef = KwMethodDef::of::<CallLater>();
static CALL_AT: KwMethodDef = KwMethodDef::of::<CallAt>();

/// Replaces `LoopCore`'s PyO3 scheduling methods with these.
///
/// # Errors
///
/// Those of making and setting the descriptors.
pub(crate) fn install_on(ty: &Bound<'_, PyType>) -> PyResult<()> {
    for def in [&CALL_SOON, &CALL_SOON_THREADSAFE, &CALL_LATER, &CALL_AT] {
        install(ty, def)?;
    }
    Ok(())
}
