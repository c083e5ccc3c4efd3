//! What commands print on stdout: [`write_stdout`] behind the `out!`/`outln!` macros (a
//! closed pipe ends the process quietly with exit 0), and the per-row lines of a run.
use fcollide::run::RunRecord;

/// Ends the running progress phase (so that no bar runs into the line), writes to stdout
/// and flushes; a closed pipe exits 0, another write error exits 1.
pub fn write_stdout(text: std::fmt::Arguments) {
    use std::io::Write;
    crate::progress::end_phase();
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(crate::error::FAILURE);
    }
}

/// One line per row: verdict, class agreement, confidence, spread (as a share of
/// `reference`), feature error.
pub fn print_rows(rec: &RunRecord, reference: &str) {
    for r in &rec.rows {
        outln!("{}: {}", r.name, r.verdict_line());
        outln!(
            "{}: {:.1} % of {} samples in class {}, confidence {:.4} (target {:.4}), vertex L2 {:.3} ({:.1} % of {reference}), feature error mean {:.2e} max {:.2e}, {:.2} s",
            r.name,
            100.0 * r.class_agreement,
            r.verification.samples,
            r.verification.target_class,
            r.sample_confidence_mean,
            r.target_confidence,
            r.vertex_pairwise_l2,
            100.0 * r.vertex_to_dataset_ratio,
            r.feature_rel_err_mean,
            r.feature_rel_err_max,
            r.vertex_seconds
        );
    }
}

/// One line per exact row, and one for its closest colliding input.
pub fn print_exact(rec: &RunRecord) {
    for r in &rec.exact_rows {
        outln!(
            "{} at {}: {}{}; N+ {} rank {} affine dim {}; {:.1} % of {} samples in the target class, vertex L2 {:.3} ({:.1} % of dataset), collision deviation {:.1e} (vertices) {:.1e} (samples), Chebyshev radius {}",
            r.name,
            r.layer,
            r.verdict,
            if r.certified { " (certified)" } else { "" },
            r.n_plus,
            r.rank,
            r.affine_dim,
            100.0 * r.class_agreement,
            r.samples,
            r.vertex_pairwise_l2,
            100.0 * r.vertex_to_dataset_ratio,
            r.vertex_collision_dev,
            r.sample_collision_dev,
            r.chebyshev_radius.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into())
        );
        if let Some(c) = &r.closest {
            outln!(
                "closest colliding input to {}: L1 {:.3}, L2 {:.3}, class {} ({:.4})",
                c.other,
                c.l1,
                c.l2,
                c.class,
                c.confidence
            );
        }
    }
}
