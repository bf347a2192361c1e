//! libpq speaks TLS to PostgreSQL through OpenSSL, and OpenSSL registers an exit handler
//! (`OPENSSL_cleanup`) that frees its global state while other threads of the process may still
//! be winding down and using it: now and then the process then aborts *after* a clean shutdown
//! (`free(): invalid pointer` under `__run_exit_handlers`, seen as rare SIGABRT/SIGSEGV at the end
//! of PostgreSQL test processes). Initialising OpenSSL first with `OPENSSL_INIT_NO_ATEXIT` leaves
//! that memory to the OS instead.

use std::sync::Once;

/// `OPENSSL_INIT_NO_ATEXIT` from `openssl/crypto.h` (OpenSSL 1.1.1 and later).
const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;

/// Call before the first PostgreSQL connection. Looks OpenSSL up in the running process (libpq
/// brought it in), so nothing extra is linked; a no-op where it is absent.
pub fn skip_openssl_exit_cleanup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: dlsym with RTLD_DEFAULT only looks a symbol up. If found, it is OpenSSL's
        // `int OPENSSL_init_crypto(uint64_t opts, const OPENSSL_INIT_SETTINGS *settings)`, called
        // with a null settings pointer as documented.
        unsafe {
            let symbol = libc::dlsym(libc::RTLD_DEFAULT, c"OPENSSL_init_crypto".as_ptr());
            if !symbol.is_null() {
                let init: extern "C" fn(u64, *const libc::c_void) -> libc::c_int =
                    std::mem::transmute(symbol);
                init(OPENSSL_INIT_NO_ATEXIT, std::ptr::null());
            }
        }
    });
}
