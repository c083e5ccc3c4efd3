//! Issue 18: a property-based fuzzer (proptest) for every reader of untrusted bytes: the
//! pickle VM, the zip reader, the ONNX decoder, the safetensors, npz and npy readers, IDX,
//! TOML model specs, vertex files, checkpoints, the patch-database header and the DCI index
//! header. Each input is a valid seed file with a few mutations (bit flips, bytes set to
//! boundary integers, truncation, insertion, deletion, duplication of a range) or plain
//! random bytes; every reader must answer `Ok` or an error, never panic (proptest catches
//! the panic and shrinks the input), and stay within a memory bound: a counting allocator
//! records the peak of the bytes allocated by the reading thread, and the readers run under
//! tightened [`fcollide::limits`] (256 MiB for tensors, reads and inflated members).
//!
//! Cases per reader: 1,000 in the normal suite (a few seconds in all); set
//! `FCOLLIDE_FUZZ_CASES=N` for a longer run and `FCOLLIDE_FUZZ_SEED=S` for other cases
//! (the default seed gives the same cases on every run), e.g.
//! `FCOLLIDE_FUZZ_CASES=200000 FCOLLIDE_FUZZ_SEED=1 cargo test --release -p fcollide --test it
//! fuzz -- --nocapture --test-threads 1`.
use fcollide::limits::{self, Limits};
use fcollide::model::import::{npz, onnx, pickle, read_tensors, zip, Format, ModelSpec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------ memory accounting

/// The system allocator, counting the live bytes allocated by threads that track.
struct Counting;

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let live = LIVE.with(|l| {
                l.set(l.get() + delta);
                l.get()
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The limits the readers run under here: low enough that a reader that honours them stays
/// far below [`PEAK_BOUND`], high enough for every seed file.
const TIGHT: Limits = Limits {
    max_read_bytes: 256 << 20,
    max_tensor_bytes: 256 << 20,
    max_inflated_bytes: 256 << 20,
    max_pickle_values: 1_000_000,
    max_pickle_memo: 100_000,
    ..Limits::DEFAULT
};

/// Largest peak of live bytes a reader may reach on one input (beyond the input itself).
const PEAK_BOUND: isize = 1 << 30;

/// Runs `f` under [`TIGHT`] limits and returns the peak of the bytes it allocated on this
/// thread.
fn measured(f: impl FnOnce()) -> isize {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACK.with(|t| t.set(true));
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            TRACK.with(|t| t.set(false));
        }
    }
    let stop = Stop;
    limits::with_limits(TIGHT, f);
    drop(stop);
    PEAK.with(Cell::get)
}

// ------------------------------------------------------------------ inputs

/// One edit of a seed file.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    /// A boundary integer written little- or big-endian over 1, 2, 4 or 8 bytes.
    SetInt(Index, u64, u8, bool),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Copies a range elsewhere (repeats a record, a header, a memo reference).
    Duplicate(Index, Index, usize),
}

fn boundary() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x7f),
        Just(0x80),
        Just(0xff),
        Just(0xffff),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0xffff_ffff),
        Just(1 << 40),
        Just(i64::MAX as u64),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        3 => (any::<Index>(), boundary(), prop_oneof![Just(1u8), Just(2), Just(4), Just(8)], any::<bool>())
            .prop_map(|(i, v, w, be)| Mutation::SetInt(i, v, w, be)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..256)
            .prop_map(|(a, b, n)| Mutation::Duplicate(a, b, n)),
    ]
}

fn apply(seed: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in muts {
        let n = b.len();
        if n == 0 {
            break;
        }
        match m {
            Mutation::FlipBit(i, bit) => b[i.index(n)] ^= 1 << bit,
            Mutation::SetByte(i, v) => b[i.index(n)] = *v,
            Mutation::SetInt(i, v, w, be) => {
                let w = *w as usize;
                let at = i.index(n);
                let bytes = if *be {
                    v.to_be_bytes()[8 - w..].to_vec()
                } else {
                    v.to_le_bytes()[..w].to_vec()
                };
                for (k, x) in bytes.into_iter().enumerate() {
                    if at + k < n {
                        b[at + k] = x;
                    }
                }
            }
            Mutation::Truncate(i) => b.truncate(i.index(n)),
            Mutation::Insert(i, bytes) => {
                let at = i.index(n + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let at = i.index(n);
                b.drain(at..(at + len).min(n));
            }
            Mutation::Duplicate(from, to, len) => {
                let f = from.index(n);
                let piece = b[f..(f + len).min(n)].to_vec();
                let t = to.index(n + 1);
                b.splice(t..t, piece);
            }
        }
    }
    b
}

/// A seed file with mutations (mostly), or random bytes.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        6 => (0..n, proptest::collection::vec(mutation(), 1..6))
            .prop_map(move |(s, m)| apply(&seeds[s], &m)),
        1 => proptest::collection::vec(any::<u8>(), 0..1024),
    ]
}

fn cases() -> u32 {
    std::env::var("FCOLLIDE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Runs `read` on `cases()` inputs built from `seeds`; fails on a panic (proptest reports
/// the shrunk input) or a peak allocation above [`PEAK_BOUND`].
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, read: impl Fn(&[u8]) -> bool) {
    assert!(!seeds.is_empty() && seeds.iter().all(|s| !s.is_empty()));
    let started = std::time::Instant::now();
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    // The same cases on every run unless FCOLLIDE_FUZZ_SEED picks others.
    let seed: u64 = std::env::var("FCOLLIDE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
    let mut runner = TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &key,
        ),
    );
    let worst = Cell::new(0);
    let accepted = Cell::new(0u32);
    let result = runner.run(&input(seeds), |bytes| {
        let mut ok = false;
        let peak = measured(|| ok = read(&bytes));
        accepted.set(accepted.get() + ok as u32);
        worst.set(worst.get().max(peak));
        if peak > PEAK_BOUND + 4 * bytes.len() as isize {
            return Err(TestCaseError::fail(format!(
                "{name}: {peak} bytes allocated for an input of {} bytes",
                bytes.len()
            )));
        }
        Ok(())
    });
    eprintln!(
        "fuzz {name}: {} cases ({} read without error) in {:.1} s, largest peak allocation {} KiB",
        cases(),
        accepted.get(),
        started.elapsed().as_secs_f64(),
        worst.get() / 1024
    );
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

// ------------------------------------------------------------------ seeds

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

/// A scratch file per thread for the readers that take a path.
fn scratch(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "fcollide-fuzz-{}-{:?}.{ext}",
        std::process::id(),
        std::thread::current().id()
    ))
}

fn with_file(ext: &str, bytes: &[u8], f: impl FnOnce(&Path) -> bool) -> bool {
    let p = scratch(ext);
    std::fs::write(&p, bytes).unwrap();
    let ok = f(&p);
    let _ = std::fs::remove_file(&p);
    ok
}

/// A pickle exercising the opcodes the VM knows: protocol 2 and 4 framing, memo
/// (`MEMOIZE`, `BINPUT`, `BINGET`, `LONG_BINGET`), `DUP`, marks, tuples, lists, dicts,
/// integers, floats, strings, bytes, `GLOBAL`/`STACK_GLOBAL`, `REDUCE` and `BUILD`.
fn pickle_seed() -> Vec<u8> {
    let mut p = vec![0x80, 4, 0x95];
    p.extend(0u64.to_le_bytes());
    p.extend(b"}\x94(");
    p.extend(b"\x8c\x01a\x94K\x07");
    p.extend(b"\x8c\x01b\x94]\x94(K\x01J\xff\xff\xff\xffG?\xf0\x00\x00\x00\x00\x00\x00e");
    p.extend(b"\x8c\x01c\x94(\x88\x89Nt\x94");
    p.extend(b"\x8c\x01d\x94C\x03xyz2h\x01");
    p.extend(b"\x8c\x01e\x94\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R\x94");
    p.extend(b"\x8c\x01f\x94j\x02\x00\x00\x00");
    p.extend(b"u.");
    p
}

fn safetensors_of(names: &[(&str, Vec<usize>)]) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<Vec<u8>> = names
        .iter()
        .map(|(_, s)| vec![0x3f; 4 * s.iter().product::<usize>()])
        .collect();
    let views: Vec<(String, TensorView<'_>)> = names
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            (
                n.to_string(),
                TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, None).unwrap()
}

fn idx_seeds() -> Vec<Vec<u8>> {
    use fcollide::data::idx::{encode_images, encode_labels, gzip, IdxImages};
    let imgs = IdxImages::new(3, 4, 5, (0..60).collect()).unwrap();
    let i = encode_images(&imgs).unwrap();
    let l = encode_labels(&[1, 2, 9]).unwrap();
    vec![gzip(&i).unwrap(), gzip(&l).unwrap(), i, l]
}

// ------------------------------------------------------------------ the readers

#[test]
fn fuzz_pickle_vm() {
    let pth = fixture("mlp.pth");
    let zip = zip::ZipArchive::new(&pth, "mlp.pth", "zip").unwrap();
    let name = zip
        .entries
        .iter()
        .find(|e| e.name.ends_with("data.pkl"))
        .unwrap()
        .clone();
    let pkl = zip.read(&name).unwrap().into_owned();
    let legacy = fixture("whole_module.pth");
    fuzz("pickle", vec![pkl, pickle_seed(), legacy], |b| {
        pickle::load(b).is_ok()
    });
}

#[test]
fn fuzz_zip_reader() {
    let deflated = zip::write_zip(
        &[
            ("a/x".into(), vec![7u8; 3000]),
            ("a/y".into(), b"hello".to_vec()),
        ],
        true,
    );
    fuzz(
        "zip",
        vec![fixture("mlp.pth"), fixture("vggtiny.npz"), deflated],
        |b| match zip::ZipArchive::new(b, "f.zip", "zip") {
            Ok(z) => z.entries.iter().all(|e| z.read(e).is_ok()),
            Err(_) => false,
        },
    );
}

#[test]
fn fuzz_pth_reader() {
    fuzz(
        "pth",
        vec![
            fixture("mlp.pth"),
            fixture("lenet.pth"),
            fixture("mlp_ckpt.pth"),
        ],
        |b| read_tensors(b, Format::Pth, "f.pth").is_ok(),
    );
}

#[test]
fn fuzz_onnx_decoder() {
    fuzz(
        "onnx",
        vec![
            fixture("mlp.onnx"),
            fixture("lenet.onnx"),
            fixture("softmax.onnx"),
        ],
        |b| {
            let graph = onnx::read_onnx(b, "f.onnx", None).is_ok();
            read_tensors(b, Format::Onnx, "f.onnx").is_ok() && graph
        },
    );
}

#[test]
fn fuzz_safetensors_reader() {
    fuzz(
        "safetensors",
        vec![
            fixture("mlp.safetensors"),
            fixture("mlp_seq_f16.safetensors"),
            safetensors_of(&[("w", vec![2, 3]), ("b", vec![3])]),
        ],
        |b| read_tensors(b, Format::Safetensors, "f.safetensors").is_ok(),
    );
}

#[test]
fn fuzz_npz_and_npy_readers() {
    let npy = npz::write_npy_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let deflated = zip::write_zip(&[("w.npy".into(), npy.clone())], true);
    fuzz(
        "npz",
        vec![fixture("vggtiny.npz"), fixture("vggtiny_f64.npz"), deflated],
        |b| npz::read_npz(b, "f.npz").is_ok(),
    );
    fuzz("npy", vec![npy], |b| npz::read_npy(b, "f.npz", "w").is_ok());
}

#[test]
fn fuzz_idx_reader() {
    use fcollide::data::idx::{parse_images, parse_labels};
    fuzz("idx", idx_seeds(), |b| {
        let images = parse_images(b, "f-idx3-ubyte").is_ok();
        parse_labels(b, "f-idx1-ubyte").is_ok() || images
    });
}

#[test]
fn fuzz_model_spec() {
    let mut seeds = Vec::new();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            seeds.push(std::fs::read(&p).unwrap());
        }
    }
    seeds.push(
        b"arch = \"custom\"\nweights = \"w.safetensors\"\ninput_shape = [1, 8, 8]\n\
          [[node]]\nop = \"conv\"\nout = 4\nkernel = 3\npadding = 1\n\
          [[node]]\nop = \"relu\"\n[[node]]\nop = \"flatten\"\n\
          [[node]]\nop = \"linear\"\nout = 10\n"
            .to_vec(),
    );
    fuzz("spec", seeds, |b| {
        let Ok(text) = std::str::from_utf8(b) else {
            return false;
        };
        match ModelSpec::parse(text, "f.toml", None) {
            Ok(s) => fcollide::model::import::spec::template(&s, "f.toml").is_ok(),
            Err(_) => false,
        }
    });
}

#[test]
fn fuzz_vertex_files_and_checkpoints() {
    use fcollide::collide::checkpoint::{self, CheckpointMeta};
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("c.ckpt");
    let meta = CheckpointMeta {
        step: 3,
        adam_t: 3,
        params: serde_json::json!({"alpha": 1.0}),
        fingerprint: 9,
        loss_history: vec![1.0, 0.5, 0.25],
    };
    let z = vec![0.25f32; 12];
    checkpoint::save(&ck, &meta, (&z, &z, &z)).unwrap();
    let ck = std::fs::read(&ck).unwrap();
    fuzz("checkpoint", vec![ck], |b| {
        with_file("ckpt", b, |p| checkpoint::load(p).is_ok())
    });
    let v = vertex_file_seed(dir.path());
    fuzz("vertices", vec![v], |b| {
        with_file("safetensors", b, |p| {
            fcollide::collide::io::load_vertices(p).is_ok()
        })
    });
}

/// A vertex file of two 1×3×3 vertices, written by `save_vertices`.
fn vertex_file_seed(dir: &Path) -> Vec<u8> {
    use fcollide::collide::io::{save_vertices, VertexFile};
    let stats = serde_json::json!({
        "unit": 0, "l_plus": 0.5, "l_minus": 0.25, "unit_value": 0.0,
        "feature_rel_err": 1e-3, "z_satisfied": 1.0, "class": 3, "confidence": 0.9,
        "dist_from_init": 2.0
    });
    let set = serde_json::json!({
        "layer": "fc1", "shape": [1, 3, 3], "vertices": vec![0.5f32; 18],
        "stats": [stats.clone(), stats], "n_units": 8, "n_plus": 6, "engine": "affine",
        "region_locked": true, "collision_tol": 1e-3, "saturation_tol": 1e-6,
        "loss_history": [1.0, 0.5], "seconds": 0.1
    });
    let file = VertexFile {
        set: serde_json::from_value(set).unwrap(),
        target: vec![0.25; 9],
        init: vec![0.75; 18],
        params: serde_json::json!({"alpha": 1.0}),
    };
    let p = dir.join("v.safetensors");
    save_vertices(&file, &p).unwrap();
    fcollide::collide::io::load_vertices(&p).unwrap();
    std::fs::read(&p).unwrap()
}

#[test]
fn fuzz_patch_database_and_dci_index_headers() {
    use fcollide::patches::db::{build, BuildParams, DatasetImages, PatchDb};
    use fcollide::patches::knn::DciParams;
    use fcollide::progress::Silent;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.fcpd");
    let src = DatasetImages::embedded_train(0).unwrap();
    let params = BuildParams {
        size: 7,
        stride: 7,
        limit_images: Some(3),
        description: None,
    };
    build(&src, &params, None, &path, &Silent).unwrap();
    let db = PatchDb::open(&path).unwrap();
    let index = db.build_index(DciParams::default()).unwrap();
    let ipath = dir.path().join("d.dci");
    index.save(&ipath).unwrap();
    let db_bytes = std::fs::read(&path).unwrap();
    let index_bytes = std::fs::read(&ipath).unwrap();
    fuzz("patch database", vec![db_bytes], |b| {
        with_file("fcpd", b, |p| {
            let Ok(db) = PatchDb::open(p) else {
                return false;
            };
            let _ = db.summary();
            let _ = db.rows().iter().sum::<f32>();
            let _ = (0..db.len()).map(|i| db.patch(i)[0]).sum::<f32>();
            let _: Vec<_> = (0..db.header().n_images.min(100))
                .map(|i| db.image_name(i))
                .collect();
            true
        })
    });
    fuzz("dci index", vec![index_bytes], |b| {
        with_file("dci", b, |p| db.load_index(p).is_ok())
    });
}
