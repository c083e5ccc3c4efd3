//! Dense matrix products on strided `f32` and `f64` views, through `gemm`, the library's dot
//! products ([`dot`] over `f32`, [`dot_f64`] over the exact engine's `f64`; the LP solver
//! keeps its own SIMD kernel, `exact::simplex`), and its one [`argmax`] (over `f32`
//! probabilities as well as `f64` logits).
//!
//! `dst = scale · lhs · rhs` with `lhs` `m × k`, `rhs` `k × n`, `dst` `m × n`; each operand is
//! `(values, row stride, column stride)`, so a transposed view is only a swap of strides.

/// Panics unless every stride is positive and each operand (`(length, row stride, column
/// stride)`) holds its last element: the precondition of the unsafe `gemm` calls below.
fn check_operands(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (usize, isize, isize),
    (lhs, lhs_rs, lhs_cs): (usize, isize, isize),
    (rhs, rhs_rs, rhs_cs): (usize, isize, isize),
) {
    let last = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows.max(1) - 1) as isize * rs + (cols.max(1) - 1) as isize * cs
    };
    assert!(
        dst_rs > 0 && dst_cs > 0 && lhs_rs > 0 && lhs_cs > 0 && rhs_rs > 0 && rhs_cs > 0,
        "gemm strides must be positive"
    );
    assert!(
        last(m, n, dst_rs, dst_cs) < dst as isize
            && last(m, k, lhs_rs, lhs_cs) < lhs as isize
            && last(k, n, rhs_rs, rhs_cs) < rhs as isize,
        "gemm operands too small"
    );
}

/// `dst = scale · lhs · rhs` with `(m, n, k)` sizes; each operand is `(values, row stride,
/// column stride)` with positive strides. Single-threaded (callers parallelize over blocks).
///
/// # Panics
/// When an operand's slice is too short for its sizes and strides.
pub(crate) fn gemm_strided(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (&mut [f32], isize, isize),
    (lhs, lhs_rs, lhs_cs): (&[f32], isize, isize),
    (rhs, rhs_rs, rhs_cs): (&[f32], isize, isize),
    scale: f32,
) {
    check_operands(
        (m, n, k),
        (dst.len(), dst_rs, dst_cs),
        (lhs.len(), lhs_rs, lhs_cs),
        (rhs.len(), rhs_rs, rhs_cs),
    );
    // SAFETY: strides are positive and the asserts bound the last element of every operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            false,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            0.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `dst += lhs · rhs` in f64 with `(m, n, k)` sizes; operands as in [`gemm_strided`].
/// Single-threaded, so the result does not depend on the thread count.
///
/// # Panics
/// When an operand's slice is too short for its sizes and strides.
pub(crate) fn gemm_acc_f64(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs, dst_cs): (&mut [f64], isize, isize),
    (lhs, lhs_rs, lhs_cs): (&[f64], isize, isize),
    (rhs, rhs_rs, rhs_cs): (&[f64], isize, isize),
) {
    check_operands(
        (m, n, k),
        (dst.len(), dst_rs, dst_cs),
        (lhs.len(), lhs_rs, lhs_cs),
        (rhs.len(), rhs_rs, rhs_cs),
    );
    // SAFETY: strides are positive and the asserts bound the last element of every operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            true,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `Σ a_i b_i` over `f32`, with 8 independent accumulators (vectorises without
/// reassociation), summed as `((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)) + tail`: the
/// same order on every machine, so distances and projections are reproducible.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `Σ a_i b_i` over `f64`, summed in index order (the exact engine's residuals and
/// certificates). Pairs up to the shorter slice.
#[inline]
pub(crate) fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The index of the largest entry of `v`: `argmax_i v_i`.
///
/// Ties go to the first (lowest) index. Entries that are unordered with themselves (NaN) are
/// never chosen: a NaN logit does not make a class the prediction. `None` when `v` is empty
/// or holds only NaN.
pub fn argmax<T: PartialOrd>(v: &[T]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, x) in v.iter().enumerate() {
        #[allow(clippy::eq_op)] // `x == x` is false exactly for NaN
        let ordered = x == x;
        if ordered && best.is_none_or(|b| *x > v[b]) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties_and_skips_nan() {
        assert_eq!(argmax::<f32>(&[]), None);
        assert_eq!(argmax(&[0.1f32, 0.7, 0.2]), Some(1));
        assert_eq!(argmax(&[0.5f32, 0.5, 0.1]), Some(0));
        assert_eq!(argmax(&[0.1f64, 0.9, 0.9]), Some(1));
        // NaN is never the largest, wherever it stands.
        assert_eq!(argmax(&[f64::NAN, 1.0, 2.0]), Some(2));
        assert_eq!(argmax(&[3.0f32, f32::NAN, 2.0]), Some(0));
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), None);
        // Infinities are ordered values.
        assert_eq!(argmax(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), Some(0));
        assert_eq!(argmax(&[1.0f32, f32::INFINITY]), Some(1));
        assert_eq!(argmax(&[-1.0f64, -3.0]), Some(0));
    }

    #[test]
    fn matches_a_plain_loop_with_transposed_views_and_scale() {
        // lhs 2×3 row-major, rhs given as its transpose (2 × 3 row-major = 3 × 2 view).
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs_t = [1.0, 0.5, -1.0, 2.0, 0.0, 1.0];
        let mut dst = [0.0f32; 4];
        gemm_strided(
            (2, 2, 3),
            (&mut dst, 2, 1),
            (&lhs, 3, 1),
            (&rhs_t, 1, 3),
            -2.0,
        );
        let mut want = [0.0f32; 4];
        for i in 0..2 {
            for j in 0..2 {
                want[i * 2 + j] = -2.0
                    * (0..3)
                        .map(|l| lhs[i * 3 + l] * rhs_t[j * 3 + l])
                        .sum::<f32>();
            }
        }
        assert_eq!(dst, want);
    }

    #[test]
    #[should_panic(expected = "gemm operands too small")]
    fn short_operands_panic_instead_of_reading_out_of_bounds() {
        let mut dst = [0.0f32; 3];
        gemm_strided(
            (2, 2, 1),
            (&mut dst, 2, 1),
            (&[1.0, 2.0], 1, 1),
            (&[1.0, 2.0], 2, 1),
            1.0,
        );
    }

    #[test]
    fn dot_sums_every_product_including_the_tail() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.25).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| (x * y) as f64).sum();
        assert!((super::dot(&a, &b) as f64 - plain).abs() < 1e-4);
        assert_eq!(super::dot(&[], &[]), 0.0);
    }
}
