//! The system allocator (glibc malloc), except for blocks of exactly 8 KiB, which come page-aligned
//! from a slab of their own.
//!
//! Every HTTP/1 connection of actix-web holds an 8 KiB read buffer and an 8 KiB write buffer for
//! its whole life, WebSockets included, and touches only the first few hundred bytes of each while
//! the connection idles. Untouched pages cost no memory, but glibc puts a block wherever it fits,
//! between small objects, so the untouched part usually straddles a page boundary and is often
//! touched by its neighbours: each buffer costs about 5 KiB instead of the one page it uses.
//! Page-aligned in a slab of their own, each costs exactly that page (docs/benchmarks.md, "Memory
//! per idle connection"). The slab is a free list in 2 MiB mappings, never returned to the system
//! (as glibc's arenas mostly are not either); a free block keeps the list's link in its first
//! word, on the page it already touched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

const BLOCK: usize = 8192;
const PAGE: usize = 4096;
const REGION: usize = 2 << 20;

pub struct PageAlignedBlocks;

struct Slab {
    /// Freed blocks, each holding the address of the next in its first word.
    free: usize,
    /// The untouched rest of the current mapping.
    next: usize,
    end: usize,
}

static SLAB: Mutex<Slab> = Mutex::new(Slab {
    free: 0,
    next: 0,
    end: 0,
});

fn ours(layout: &Layout) -> bool {
    layout.size() == BLOCK && layout.align() <= PAGE
}

/// A block, and whether it is fresh from a mapping (so still zero).
fn take() -> (*mut u8, bool) {
    let mut slab = SLAB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slab.free != 0 {
        let block = slab.free as *mut usize;
        // SAFETY: a freed block of ours; its first word is the link written by `give`.
        slab.free = unsafe { block.read() };
        return (block.cast(), false);
    }
    if slab.next == slab.end {
        // SAFETY: a fresh private anonymous mapping; no other memory is touched.
        let region = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                REGION,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if region == libc::MAP_FAILED {
            return (std::ptr::null_mut(), false);
        }
        // A 2 MiB mapping may be backed by one huge page (THP "always"), which would make every
        // block cost all of its 8 KiB: keep it in small pages. Advice only; failure is harmless.
        // SAFETY: the range is the mapping just made.
        let _advice = unsafe { libc::madvise(region, REGION, libc::MADV_NOHUGEPAGE) };
        slab.next = region as usize;
        slab.end = region as usize + REGION;
    }
    let block = slab.next;
    slab.next += BLOCK;
    (block as *mut u8, true)
}

fn give(block: *mut u8) {
    let mut slab = SLAB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: a block of ours that its owner gave back; BLOCK is page-aligned, so aligned
    // for a usize.
    unsafe { block.cast::<usize>().write(slab.free) };
    slab.free = block as usize;
}

// SAFETY: 8 KiB blocks (the layout says so on every call) come from and go back to the slab,
// page-aligned, so any alignment up to a page is met; everything else is glibc's.
unsafe impl GlobalAlloc for PageAlignedBlocks {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ours(&layout) {
            return take().0;
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ours(&layout) {
            let (block, fresh) = take();
            if !block.is_null() && !fresh {
                // SAFETY: the block is BLOCK bytes (a reused one may hold old data; a fresh one
                // is zero already, and writing it would touch both its pages).
                unsafe { std::ptr::write_bytes(block, 0, BLOCK) };
            }
            return block;
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ours(&layout) {
            return give(ptr);
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `new_size` is valid for this alignment (GlobalAlloc::realloc's contract).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if ours(&layout) && ours(&new) {
            return ptr;
        }
        if !ours(&layout) && !ours(&new) {
            // SAFETY: forwarded as is.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Into or out of the slab: move it.
        // SAFETY: `new` is a valid layout (above); both blocks are live and do not overlap.
        unsafe {
            let moved = self.alloc(new);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_page_aligned_reused_and_move_in_and_out() {
        let a = PageAlignedBlocks;
        let block = Layout::from_size_align(BLOCK, 1).unwrap();
        // SAFETY: layouts are valid and every block is freed with the layout it has.
        unsafe {
            let p = a.alloc(block);
            assert!(!p.is_null());
            assert_eq!(p as usize % PAGE, 0);
            p.write(7);
            a.dealloc(p, block);
            // (Another test thread may take the freed block first: reuse is not asserted.)
            let q = a.alloc(block);
            assert_eq!(q as usize % PAGE, 0);
            assert_eq!(a.realloc(q, block, BLOCK), q, "same size stays put");
            // Out of the slab (grown) and back in (shrunk), contents kept.
            q.write(42);
            let big = a.realloc(q, block, 3 * BLOCK);
            assert_eq!(big.read(), 42);
            let small_layout = Layout::from_size_align(3 * BLOCK, 1).unwrap();
            let back = a.realloc(big, small_layout, BLOCK);
            assert_eq!(back as usize % PAGE, 0);
            assert_eq!(back.read(), 42);
            let z = a.alloc_zeroed(block);
            assert!(std::slice::from_raw_parts(z, BLOCK).iter().all(|&b| b == 0));
            a.dealloc(z, block);
            a.dealloc(back, block);
            // Other sizes are glibc's.
            let other = Layout::from_size_align(100, 8).unwrap();
            let o = a.alloc(other);
            assert!(!o.is_null());
            a.dealloc(o, other);
        }
    }
}
