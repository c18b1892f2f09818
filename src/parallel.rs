//! Data parallelism over the machine's cores with scoped threads, for per-cell work that is
//! independent (fingerprinting, reading store records).

use std::num::NonZero;

/// `items.iter().map(work)` split over the available cores, results in input order.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, NonZero::get);
    // Small inputs are not worth a thread's start-up.
    if threads == 1 || items.len() < 256 {
        return items.iter().map(work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|handle| handle.join().expect("a worker thread panicked")).collect()
    })
}

/// Like [`map`], but hands each item to `work` by value.
pub(crate) fn map_owned<T: Send, R: Send>(mut items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, NonZero::get);
    if threads == 1 || items.len() < 256 {
        return items.into_iter().map(work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while items.len() > chunk {
        let rest = items.split_off(chunk);
        parts.push(std::mem::replace(&mut items, rest));
    }
    parts.push(items);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            parts.into_iter().map(|part| scope.spawn(move || part.into_iter().map(work).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|handle| handle.join().expect("a worker thread panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_input_order() {
        let items: Vec<u32> = (0..10_000).collect();
        let doubled = super::map(&items, |item| item * 2);
        assert_eq!(doubled, items.iter().map(|item| item * 2).collect::<Vec<_>>());
        assert_eq!(super::map_owned(items.clone(), |item| item * 2), doubled);
        assert_eq!(super::map_owned(vec![1, 2, 3], |item| item + 1), [2, 3, 4]);
    }
}
