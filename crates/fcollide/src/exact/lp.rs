//! Linear programs (HiGHS, and a dense dual simplex), and the vertex LPs of the collision
//! polytope.
//!
//! Vertex LP for a unit `i ∈ Z` (push its pre-activation as low as it goes, the exact
//! counterpart of the paper's `L−_i` with `L+` and the other `Z` terms as hard constraints):
//!
//! ```text
//!   minimize   a_i·u
//!   subject to a_j·u = a_j·t  (j ∈ P),   a_j·u ≤ −c_j  (j ∈ Z),
//!              g_k·u ≤ h_k  (region),     lo ≤ u ≤ hi.
//! ```
//!
//! The box is given as column bounds. The model is built once ([`VertexLp::new`]); each later
//! objective only changes the column costs. How the re-solve starts is [`WarmStrategy`]:
//! from the previous optimal basis (`Dual`, `Primal`, `Choose`: HiGHS keeps the basis of the
//! live instance after a cost change and skips presolve), or `Restart` (the default): reload the
//! stored model into a fresh instance (~3 ms) and run the dual simplex from the slack basis,
//! which is dual feasible at once because every column is boxed. Measured on the 784-256 MLP
//! at `fc1` (`benches/exact.rs`): successive vertices lie far apart (pairwise L2 ≈ 16 in a box
//! of diameter 28), so the previous basis is a poor start — dual ≈ 880 iterations, primal
//! ≈ 4 000 — against ≈ 670 from the slack basis. Presolve is off by default (it costs more
//! than it saves on these dense rows).
//! The same model answers any linear objective over the polytope (extents, support values).
//!
//! **Solver.** The default build is pure Rust. [`VertexLp`] solves with the dense dual
//! simplex of [`super::simplex`] when the system has at most [`LpOptions::dense_max_rows`]
//! rows (`fc1` of the MNIST MLP has 256): all its columns are boxed by the pixel box and its
//! rows are dense. Above that (deeper layers of conv nets: thousands of region half-spaces)
//! it generates rows ([`super::lazy`]): the dense simplex over the `P`/`Z` rows plus the
//! region rows found violated so far. If the dense solver reports numerical trouble, the
//! solve is redone with other settings (cost perturbation switched, frequent refactorization), and
//! with HiGHS when the `highs` cargo feature is on; [`LpStats::solver`] says which ran.
//! `Restart` starts each dense solve from the slack basis, the other strategies from the
//! previous optimal basis. With the `highs` feature, [`LpSolver::Highs`] solves every LP
//! with HiGHS, for comparison. Unbounded pixel boxes (infinite bounds) are replaced by
//! `±`[`ARTIFICIAL_BOUND`]; an optimum on such a bound is reported as unbounded.
use std::time::Instant;

#[cfg(feature = "highs")]
use highs::{ColMatrix, HighsModelStatus, Model, Problem, RowProblem};
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::lazy::{LazyLp, Rows};
use super::polytope::CollisionSystem;
use super::simplex::{DenseLp, DenseOptions, DenseSolution, SimplexError};

/// Optimization sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sense {
    /// Minimize.
    Minimise,
    /// Maximize.
    Maximise,
}

#[cfg(feature = "highs")]
impl From<Sense> for highs::Sense {
    fn from(s: Sense) -> Self {
        match s {
            Sense::Minimise => highs::Sense::Minimise,
            Sense::Maximise => highs::Sense::Maximise,
        }
    }
}

/// The bound that stands in for an infinite pixel bound in the dense solvers.
pub const ARTIFICIAL_BOUND: f64 = 1e7;

/// Whether HiGHS is compiled into this build (the `highs` cargo feature).
pub const HIGHS_AVAILABLE: bool = cfg!(feature = "highs");

/// Solver settings shared by every LP of the module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LpOptions {
    /// HiGHS `primal_feasibility_tolerance`.
    pub primal_tol: f64,
    /// HiGHS `dual_feasibility_tolerance`.
    pub dual_tol: f64,
    /// HiGHS `time_limit` per solve in seconds (`None`: no limit).
    pub time_limit: Option<f64>,
    /// Run HiGHS presolve on cold solves (off by default: on these dense LPs it costs more
    /// than it saves).
    pub presolve: bool,
    /// How a re-solve after an objective change starts.
    pub warm: WarmStrategy,
    /// Further HiGHS options, set in order after the ones above (e.g. `("threads", Int(1))`).
    pub highs_options: Vec<(String, HighsValue)>,
    /// Which solver the vertex LPs use.
    pub solver: LpSolver,
    /// With [`LpSolver::Auto`], the dense simplex is used up to this many rows.
    pub dense_max_rows: usize,
    /// Settings of the dense simplex (its tolerances are `primal_tol` and `dual_tol`). By
    /// default without cost perturbation: with it, every vertex LP of the MLP's `fc2` (region
    /// rows, row generation) stalled until the iteration limit (≈ 22,000 iterations at the
    /// optimal value, then solved by the retry in 2,000–6,500); without it they take
    /// 2,600–8,500 and `fc1`'s are unchanged (BENCHMARKS.md, 2026-12-04). The retry after
    /// numerical trouble flips the choice.
    pub dense: DenseOptions,
}

/// Solver of the LPs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LpSolver {
    /// The dense dual simplex up to [`LpOptions::dense_max_rows`] rows, with row generation
    /// above.
    #[default]
    Auto,
    /// Always the dense dual simplex over all rows (any number of rows).
    Dense,
    /// Always HiGHS (needs the `highs` cargo feature).
    Highs,
}

/// The error for [`LpSolver::Highs`] in a build without HiGHS.
#[cfg(not(feature = "highs"))]
pub(crate) fn highs_missing(what: &str) -> ExactError {
    ExactError::Solver {
        what: what.to_string(),
        status: "HiGHS is not compiled into this build: rebuild with `--features highs` \
                 (needs cmake and a C++ compiler), or set the LP `solver` parameter to auto or dense"
            .into(),
    }
}

/// A value for a HiGHS option of the matching type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HighsValue {
    /// Boolean option.
    Bool(bool),
    /// Integer option.
    Int(i32),
    /// Floating-point option.
    Double(f64),
    /// String option.
    Str(String),
}

/// How a re-solve after an objective change starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarmStrategy {
    /// From the previous basis, HiGHS chooses the simplex (`simplex_strategy = 0`; it picks
    /// the primal simplex since the basis stays primal feasible).
    Choose,
    /// From the previous basis with the dual simplex (`1`); boxed columns are made dual
    /// feasible by bound flips, the rest by a dual phase 1.
    Dual,
    /// From the previous basis with the primal simplex (`4`).
    Primal,
    /// From the slack basis: reload the stored model into a fresh HiGHS instance (a few ms)
    /// and run the dual simplex. With the pixel box every column is boxed, so the slack basis
    /// is dual feasible at once.
    Restart,
}

impl WarmStrategy {
    #[cfg(feature = "highs")]
    fn code(self) -> i32 {
        match self {
            WarmStrategy::Choose => 0,
            WarmStrategy::Dual | WarmStrategy::Restart => 1,
            WarmStrategy::Primal => 4,
        }
    }
}

impl Default for LpOptions {
    fn default() -> Self {
        LpOptions {
            primal_tol: 1e-9,
            dual_tol: 1e-9,
            time_limit: None,
            presolve: false,
            warm: WarmStrategy::Restart,
            highs_options: Vec::new(),
            solver: LpSolver::Auto,
            dense_max_rows: 1024,
            dense: DenseOptions {
                perturb: false,
                ..DenseOptions::default()
            },
        }
    }
}

impl LpOptions {
    /// Whether an LP with `rows` rows goes to the dense simplex over all its rows under
    /// [`LpOptions::solver`] (else: row generation, or HiGHS when asked for).
    pub(crate) fn wants_dense(&self, rows: usize) -> bool {
        match self.solver {
            LpSolver::Auto => rows <= self.dense_max_rows,
            LpSolver::Dense => true,
            LpSolver::Highs => false,
        }
    }

    /// The dense simplex's settings for a retry after numerical trouble or the iteration
    /// limit: frequent refactorization, and the other choice of cost perturbation (a stall
    /// with one is often none with the other).
    pub(crate) fn dense_retry_settings(&self) -> DenseOptions {
        DenseOptions {
            perturb: !self.dense.perturb,
            refactor_every: 10,
            ..self.dense_settings()
        }
    }

    /// The dense simplex's settings, with this LP's primal and dual tolerances.
    pub(crate) fn dense_settings(&self) -> DenseOptions {
        DenseOptions {
            primal_tol: self.primal_tol,
            dual_tol: self.dual_tol,
            ..self.dense.clone()
        }
    }
}

/// Figures of one LP solve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LpStats {
    /// Optimal objective value.
    pub objective: f64,
    /// Wall time of the solve (including a model reload for [`WarmStrategy::Restart`]).
    pub seconds: f64,
    /// Simplex iterations.
    pub iterations: i64,
    /// Whether it started from a previous basis.
    pub warm: bool,
    /// The solver that produced it: `"dense"`, `"dense (rows generated: …)"`, `"highs"`, or
    /// a retry (`"dense retry (after: …)"`, `"highs (after dense: …)"`).
    #[serde(default = "highs_name")]
    pub solver: String,
}

fn highs_name() -> String {
    "highs".into()
}

impl LpStats {
    /// The figures of a dense-simplex solve, with `objective` in the caller's sense.
    pub(crate) fn dense(s: &DenseSolution, objective: f64) -> Self {
        LpStats {
            objective,
            seconds: s.seconds,
            iterations: s.iterations as i64,
            warm: s.warm,
            solver: "dense".into(),
        }
    }
}

/// An optimal point and its figures.
#[derive(Clone, Debug, PartialEq)]
pub struct LpSolution {
    /// Column values.
    pub x: Vec<f64>,
    /// Figures.
    pub stats: LpStats,
}

/// Row-by-row LP under construction.
#[cfg(feature = "highs")]
pub(crate) struct LpBuilder {
    problem: RowProblem,
    cols: Vec<highs::Col>,
}

#[cfg(feature = "highs")]
impl LpBuilder {
    pub(crate) fn new() -> Self {
        LpBuilder {
            problem: RowProblem::default(),
            cols: Vec::new(),
        }
    }

    /// Add a column with bounds `[lo, hi]` (infinite allowed) and cost 0; returns its index.
    pub(crate) fn col(&mut self, lo: f64, hi: f64) -> usize {
        self.cols.push(self.problem.add_column(0.0, lo..=hi));
        self.cols.len() - 1
    }

    /// Add `lo ≤ Σ v·x[col] ≤ hi` from sparse entries (zeros skipped).
    pub(crate) fn row(
        &mut self,
        lo: f64,
        hi: f64,
        entries: impl IntoIterator<Item = (usize, f64)>,
    ) {
        let e: Vec<(highs::Col, f64)> = entries
            .into_iter()
            .filter(|(_, v)| *v != 0.0)
            .map(|(c, v)| (self.cols[c], v))
            .collect();
        self.problem.add_row(lo..=hi, e);
    }

    /// Add `lo ≤ coeffs·x[offset..] ≤ hi` from a dense slice.
    pub(crate) fn dense_row(&mut self, lo: f64, hi: f64, offset: usize, coeffs: &[f64]) {
        self.row(
            lo,
            hi,
            coeffs.iter().enumerate().map(|(k, &v)| (offset + k, v)),
        );
    }

    pub(crate) fn build(self, what: &str, opts: &LpOptions) -> Result<Lp, ExactError> {
        let problem: Problem<ColMatrix> = self.problem.into();
        let mut lp = Lp {
            model: None,
            stored: (opts.warm == WarmStrategy::Restart).then(|| problem.clone()),
            cols: self.cols,
            what: what.to_string(),
            solves: 0,
            opts: opts.clone(),
        };
        lp.model = Some(lp.load(problem)?);
        Ok(lp)
    }
}

pub(crate) fn solver(what: &str, status: String) -> ExactError {
    ExactError::Solver {
        what: what.to_string(),
        status,
    }
}

/// A live HiGHS model whose objective can be changed between solves.
#[cfg(feature = "highs")]
pub struct Lp {
    model: Option<Model>,
    stored: Option<Problem<ColMatrix>>,
    cols: Vec<highs::Col>,
    what: String,
    solves: usize,
    opts: LpOptions,
}

#[cfg(feature = "highs")]
impl Lp {
    /// A fresh HiGHS instance holding `problem`, with the options applied.
    fn load(&self, problem: Problem<ColMatrix>) -> Result<Model, ExactError> {
        let what = self.what.as_str();
        let opts = &self.opts;
        let mut model = problem
            .try_optimise(highs::Sense::Minimise)
            .map_err(|s| solver(what, format!("model build failed: {s:?}")))?;
        let mut set = |name: &str, v: &HighsValue| -> Result<(), ExactError> {
            let ok = match v {
                HighsValue::Bool(b) => model.try_set_option(name, *b),
                HighsValue::Int(i) => model.try_set_option(name, *i),
                HighsValue::Double(x) => model.try_set_option(name, *x),
                HighsValue::Str(t) if !t.contains('\0') && !name.contains('\0') => {
                    model.try_set_option(name, t.as_str())
                }
                HighsValue::Str(_) => {
                    return Err(solver(what, format!("HiGHS option {name}: NUL in value")))
                }
            };
            ok.map_err(|_| solver(what, format!("cannot set HiGHS option {name} = {v:?}")))
        };
        set(
            "primal_feasibility_tolerance",
            &HighsValue::Double(opts.primal_tol),
        )?;
        set(
            "dual_feasibility_tolerance",
            &HighsValue::Double(opts.dual_tol),
        )?;
        if let Some(limit) = opts.time_limit {
            set("time_limit", &HighsValue::Double(limit))?;
        }
        let presolve = if opts.presolve { "on" } else { "off" };
        set("presolve", &HighsValue::Str(presolve.into()))?;
        for (name, v) in &opts.highs_options {
            set(name, v)?;
        }
        Ok(model)
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols.len()
    }

    /// Solves done so far.
    pub fn solves(&self) -> usize {
        self.solves
    }

    /// Solve with objective `cost` (length `ncols`; sparse costs via [`Lp::solve_sparse`]).
    pub fn solve(&mut self, sense: Sense, cost: &[f64]) -> Result<LpSolution, ExactError> {
        if cost.len() != self.ncols() {
            return Err(ExactError::shape(
                format!("LP objective ({})", self.what),
                self.ncols(),
                cost.len(),
            ));
        }
        self.solve_sparse(sense, cost.iter().copied().enumerate())
    }

    /// Solve with the objective given as `(column, cost)` pairs; other columns get cost 0.
    pub fn solve_sparse(
        &mut self,
        sense: Sense,
        cost: impl IntoIterator<Item = (usize, f64)>,
    ) -> Result<LpSolution, ExactError> {
        let n = self.ncols();
        let mut full = vec![0.0; n];
        for (c, v) in cost {
            if c >= n {
                return Err(ExactError::shape(
                    format!("LP objective column ({})", self.what),
                    format!("< {n}"),
                    c,
                ));
            }
            full[c] = v;
        }
        let t0 = Instant::now();
        let restart = self.solves > 0 && self.opts.warm == WarmStrategy::Restart;
        let mut model = match (&self.stored, restart) {
            (Some(p), true) => {
                self.model = None;
                self.load(p.clone())?
            }
            _ => self
                .model
                .take()
                .ok_or_else(|| solver(&self.what, "model lost after an earlier failure".into()))?,
        };
        for (col, v) in self.cols.iter().zip(&full) {
            model.change_column_cost(*col, *v);
        }
        model.set_sense(sense.into());
        let warm = self.solves > 0 && !restart;
        if warm {
            model
                .try_set_option("simplex_strategy", self.opts.warm.code())
                .map_err(|_| solver(&self.what, "cannot set simplex_strategy".into()))?;
        }
        let solved = model
            .try_solve()
            .map_err(|s| solver(&self.what, format!("HiGHS run returned {s:?}")))?;
        let seconds = t0.elapsed().as_secs_f64();
        self.solves += 1;
        let status = solved.status();
        let result = match status {
            HighsModelStatus::Optimal => {
                let sol = solved.get_solution();
                Ok(LpSolution {
                    x: sol.columns().to_vec(),
                    stats: LpStats {
                        objective: solved.objective_value(),
                        seconds,
                        iterations: solved
                            .int_info_value(c"simplex_iteration_count")
                            .unwrap_or(-1),
                        warm,
                        solver: highs_name(),
                    },
                })
            }
            HighsModelStatus::Infeasible => Err(ExactError::Infeasible {
                what: self.what.clone(),
            }),
            HighsModelStatus::Unbounded | HighsModelStatus::UnboundedOrInfeasible => {
                Err(ExactError::Unbounded {
                    what: self.what.clone(),
                    status: format!("{status:?}"),
                })
            }
            other => Err(solver(&self.what, format!("model status {other:?}"))),
        };
        self.model = Some(Model::from(solved));
        result
    }
}

/// The collision polytope as a reusable LP over `u` (columns `0..d`): the dense simplex over
/// all rows, with row generation, or a HiGHS model (see the module docs for which).
pub struct VertexLp {
    backend: Backend,
    d: usize,
    opts: LpOptions,
    /// Whether the pixel box had infinite bounds (replaced by the artificial bound).
    artificial: bool,
}

#[allow(clippy::large_enum_variant)]
enum Backend {
    #[cfg(feature = "highs")]
    Highs(Lp),
    Dense {
        lp: DenseLp,
        solves: usize,
        /// HiGHS model of the same LP, built on the first dense failure.
        #[cfg(feature = "highs")]
        fallback: Option<Lp>,
        /// Without HiGHS: the same LP by row generation, used after the dense simplex
        /// fails twice (its own retry included).
        #[cfg(not(feature = "highs"))]
        fallback: Box<LazyLp>,
    },
    Lazy(LazyLp),
}

/// The pixel box with infinite bounds replaced by `±ARTIFICIAL_BOUND`; whether any was.
pub(crate) fn finite_box(lo: &[f64], hi: &[f64]) -> (Vec<f64>, Vec<f64>, bool) {
    let fix = |v: f64| v.clamp(-ARTIFICIAL_BOUND, ARTIFICIAL_BOUND);
    let artificial = lo.iter().chain(hi).any(|v| !v.is_finite());
    (
        lo.iter().map(|&v| fix(v)).collect(),
        hi.iter().map(|&v| fix(v)).collect(),
        artificial,
    )
}

/// The collision system's rows: `(core, pool)` with the equalities and `Z` rows in the core
/// and the region rows in the pool.
pub(crate) fn system_rows(sys: &CollisionSystem) -> (Rows, Rows) {
    let d = sys.d;
    let mut core = Rows::new(d);
    let mut pool = Rows::new(d);
    for i in 0..sys.n_eq() {
        core.push(sys.eq_row(i), sys.eq_b[i], sys.eq_b[i]);
    }
    for k in 0..sys.ineq.len() {
        let target = if k < sys.n_z_rows() {
            &mut core
        } else {
            &mut pool
        };
        target.push(sys.ineq.row(k), f64::NEG_INFINITY, sys.ineq.h[k]);
    }
    (core, pool)
}

impl VertexLp {
    /// Build the model: equalities, `Z` and region inequalities, box as column bounds.
    pub fn new(sys: &CollisionSystem, opts: &LpOptions) -> Result<Self, ExactError> {
        let d = sys.d;
        let rows = sys.n_eq() + sys.ineq.len();
        let (lo, hi, artificial) = finite_box(&sys.lo, &sys.hi);
        let backend = if opts.solver == LpSolver::Highs {
            #[cfg(feature = "highs")]
            {
                let mut b = LpBuilder::new();
                for k in 0..d {
                    b.col(sys.lo[k], sys.hi[k]);
                }
                add_system_rows(&mut b, sys, 0);
                Backend::Highs(b.build("collision polytope", opts)?)
            }
            #[cfg(not(feature = "highs"))]
            return Err(highs_missing("collision polytope"));
        } else if opts.wants_dense(rows)
            && (cfg!(feature = "highs")
                || opts.solver == LpSolver::Dense
                || sys.ineq.len() == sys.n_z_rows())
        {
            // Without HiGHS to fall back on, a system with region rows goes to row generation
            // from the start: on the MLP's fc2 the dense simplex over all 512 rows stalls at
            // its iteration limit, while row generation solves it (BENCHMARKS.md).
            let (core, pool) = system_rows(sys);
            let mut a = core.a.clone();
            a.extend_from_slice(&pool.a);
            let rl: Vec<f64> = core.lo.iter().chain(&pool.lo).copied().collect();
            let ru: Vec<f64> = core.hi.iter().chain(&pool.hi).copied().collect();
            let lp = DenseLp::new(&a, rows, d, &rl, &ru, &lo, &hi)
                .map_err(|e| simplex_error("collision polytope", e))?;
            Backend::Dense {
                lp,
                solves: 0,
                #[cfg(feature = "highs")]
                fallback: None,
                #[cfg(not(feature = "highs"))]
                fallback: Box::new(LazyLp::new(core, pool, lo.clone(), hi.clone())),
            }
        } else {
            let (core, pool) = system_rows(sys);
            Backend::Lazy(LazyLp::new(core, pool, lo, hi))
        };
        Ok(VertexLp {
            backend,
            d,
            opts: opts.clone(),
            artificial,
        })
    }

    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Whether the dense simplex serves this model (over all rows or by row generation).
    pub fn is_dense(&self) -> bool {
        matches!(self.backend, Backend::Dense { .. } | Backend::Lazy(_))
    }

    /// Minimize `cost·u` over the polytope.
    pub fn minimize(&mut self, cost: &[f64]) -> Result<LpSolution, ExactError> {
        self.solve(Sense::Minimise, cost)
    }

    /// Maximize `cost·u` over the polytope.
    pub fn maximize(&mut self, cost: &[f64]) -> Result<LpSolution, ExactError> {
        self.solve(Sense::Maximise, cost)
    }

    fn solve(&mut self, sense: Sense, cost: &[f64]) -> Result<LpSolution, ExactError> {
        const WHAT: &str = "collision polytope";
        if cost.len() != self.d {
            return Err(ExactError::shape(
                format!("LP objective ({WHAT})"),
                self.d,
                cost.len(),
            ));
        }
        let flip = matches!(sense, Sense::Maximise);
        let c: Vec<f64> = if flip {
            cost.iter().map(|v| -v).collect()
        } else {
            cost.to_vec()
        };
        let dense_opts = self.opts.dense_settings();
        let sol = match &mut self.backend {
            #[cfg(feature = "highs")]
            Backend::Highs(lp) => return lp.solve(sense, cost),
            Backend::Lazy(lp) => {
                let run = |lp: &mut LazyLp, o: &DenseOptions| lp.solve(&c, o);
                let (r, note) = match run(lp, &dense_opts) {
                    Err(e @ (SimplexError::Numerical(_) | SimplexError::IterationLimit(_))) => (
                        run(lp, &self.opts.dense_retry_settings()),
                        Some(e.to_string()),
                    ),
                    r => (r, None),
                };
                let r = r.map_err(|e| simplex_error(WHAT, e))?;
                let s = r.solution;
                let mut stats = LpStats::dense(&s, if flip { -s.objective } else { s.objective });
                stats.solver = format!(
                    "dense (rows generated: {} of {} region rows in {} rounds){}",
                    r.working_rows,
                    lp.pool_rows(),
                    r.rounds,
                    note.map(|n| format!(", retried after: {n}"))
                        .unwrap_or_default()
                );
                LpSolution { x: s.x, stats }
            }
            Backend::Dense {
                lp,
                solves,
                fallback,
            } => {
                let warm = *solves > 0 && self.opts.warm != WarmStrategy::Restart;
                *solves += 1;
                match lp.solve(&c, warm, &dense_opts) {
                    Ok(s) => LpSolution {
                        stats: LpStats::dense(&s, if flip { -s.objective } else { s.objective }),
                        x: s.x,
                    },
                    Err(SimplexError::Infeasible(_)) => {
                        return Err(ExactError::Infeasible {
                            what: WHAT.to_string(),
                        })
                    }
                    Err(e) => {
                        let t0 = Instant::now();
                        #[cfg(feature = "highs")]
                        {
                            if fallback.is_none() {
                                *fallback = Some(highs_copy(lp, WHAT, &self.opts)?);
                            }
                            let hl = fallback.as_mut().expect("fallback model just built");
                            let mut sol = hl.solve(sense, cost)?;
                            sol.stats.seconds = t0.elapsed().as_secs_f64();
                            sol.stats.solver = format!("highs (after dense: {e})");
                            sol
                        }
                        #[cfg(not(feature = "highs"))]
                        {
                            let (s, how) =
                                match lp.solve(&c, false, &self.opts.dense_retry_settings()) {
                                    Ok(s) => (s, format!("dense retry (after: {e})")),
                                    Err(SimplexError::Infeasible(_)) => {
                                        return Err(ExactError::Infeasible {
                                            what: WHAT.to_string(),
                                        })
                                    }
                                    Err(e2) => {
                                        // A different path through the same LP: row
                                        // generation from a smaller working set.
                                        let r = match fallback.solve(&c, &dense_opts) {
                                            Err(
                                                SimplexError::Numerical(_)
                                                | SimplexError::IterationLimit(_),
                                            ) => fallback
                                                .solve(&c, &self.opts.dense_retry_settings()),
                                            r => r,
                                        }
                                        .map_err(|e3| simplex_error(WHAT, e3))?;
                                        (
                                            r.solution,
                                            format!(
                                                "dense by row generation (after: {e}; retry: {e2})"
                                            ),
                                        )
                                    }
                                };
                            let mut stats =
                                LpStats::dense(&s, if flip { -s.objective } else { s.objective });
                            stats.seconds = t0.elapsed().as_secs_f64();
                            stats.solver = how;
                            LpSolution { x: s.x, stats }
                        }
                    }
                }
            }
        };
        if self.artificial
            && sol
                .x
                .iter()
                .any(|v| v.abs() >= ARTIFICIAL_BOUND * (1.0 - 1e-9))
        {
            return Err(ExactError::Unbounded {
                what: WHAT.to_string(),
                status: format!(
                    "the optimum reaches the stand-in ±{ARTIFICIAL_BOUND:e} for an infinite pixel bound"
                ),
            });
        }
        Ok(sol)
    }

    /// The vertex that pushes unit `unit` (a `Z` unit of the layer) as low as it goes.
    pub fn push_unit(&mut self, sys: &CollisionSystem, unit: usize) -> Result<Vertex, ExactError> {
        if unit >= sys.map.rows {
            return Err(ExactError::BadUnit {
                layer: sys.layer.clone(),
                unit,
                reason: format!("the layer has {} units", sys.map.rows),
            });
        }
        if sys.target_preact[unit] > 0.0 {
            return Err(ExactError::BadUnit {
                layer: sys.layer.clone(),
                unit,
                reason: format!(
                    "it is positive at the target (ỹt = {:.4e}); only units in Z can be pushed",
                    sys.target_preact[unit]
                ),
            });
        }
        let sol = self.minimize(sys.map.row(unit))?;
        let preact = sol.stats.objective + sys.map.c[unit];
        Ok(Vertex {
            unit,
            preact,
            point: sol.x,
            stats: sol.stats,
        })
    }
}

pub(crate) fn simplex_error(what: &str, e: SimplexError) -> ExactError {
    match e {
        SimplexError::Infeasible(_) => ExactError::Infeasible {
            what: what.to_string(),
        },
        other => solver(what, other.to_string()),
    }
}

/// The HiGHS model of a dense LP (its implied row bounds are as good as the infinite ones).
#[cfg(feature = "highs")]
fn highs_copy(lp: &DenseLp, what: &str, opts: &LpOptions) -> Result<Lp, ExactError> {
    let mut b = LpBuilder::new();
    for j in 0..lp.cols() {
        let (l, u) = lp.bounds(j);
        b.col(l, u);
    }
    for i in 0..lp.rows() {
        let (l, u) = lp.bounds(lp.cols() + i);
        b.row(l, u, (0..lp.cols()).map(|j| (j, lp.coeff(i, j))));
    }
    b.build(what, opts)
}

/// Add the collision system's rows on columns `offset..offset + d`.
#[cfg(feature = "highs")]
pub(crate) fn add_system_rows(b: &mut LpBuilder, sys: &CollisionSystem, offset: usize) {
    for i in 0..sys.n_eq() {
        b.dense_row(sys.eq_b[i], sys.eq_b[i], offset, sys.eq_row(i));
    }
    for k in 0..sys.ineq.len() {
        b.dense_row(f64::NEG_INFINITY, sys.ineq.h[k], offset, sys.ineq.row(k));
    }
}

/// A vertex of the collision polytope found by pushing one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Vertex {
    /// The pushed unit `i ∈ Z`.
    pub unit: usize,
    /// Its pre-activation `a_i·u + c_i` at the vertex (the LP optimum plus `c_i`).
    pub preact: f64,
    /// The vertex.
    pub point: Vec<f64>,
    /// LP figures.
    pub stats: LpStats,
}
