//! Gives this crate PyO3's configuration cfgs (`Py_LIMITED_API`, `Py_3_10`,
//! ...), so that `src/ffi/` chooses between the full and the limited C API
//! exactly as `pyo3-ffi` does.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
