//! Importing trained weights from other tools: safetensors (any key names), PyTorch `.pth`
//! state dicts, NumPy `.npz` (including the `vgg16_weights.npz` TensorFlow layout) and ONNX
//! graphs, all into a [`Graph`](crate::model::Graph).
//!
//! # Formats
//! - **safetensors**: any file, memory-mapped; f32/f64/f16/bf16/int tensors, converted to f32.
//! - **PyTorch zip** (`.pth`/`.pt`, torch ≥ 1.6): `{dir}/data.pkl` + `{dir}/data/{key}`. The
//!   pickle is read by a small VM ([`pickle`]) that only rebuilds dicts, tuples, numbers and
//!   tensors (`torch._utils._rebuild_tensor_v2` over `torch.*Storage` persistent ids, with
//!   storage offsets and strides copied out contiguously); it never executes anything, and a
//!   pickled whole module (any other class) is refused. `{"state_dict": …}` / `{"model": …}`
//!   checkpoints are accepted.
//! - **npz**: stored or deflated zip of `.npy` v1–v3 arrays, C or Fortran order.
//! - **ONNX**: protobuf decoded by hand; a chain of Gemm/MatMul(+Add)/Conv/Relu/MaxPool/
//!   Flatten/Reshape with input Sub/Div folded into a `Normalize` (see [`onnx`]).
//!
//! # Key layouts (see [`keymap`])
//! By name: `{node}.{param}` (`fc1.weight`, `layer1.0.bn1.running_var`), after user prefix
//! rules, a stripped `module.` prefix and the template's alias table (torchvision's VGG
//! `features.N` / `classifier.N`, see [`crate::model::zoo`]); the `vgg16_weights.npz` layout
//! (`conv1_1_W` HWIO, `fc6_W` `[in, out]` with HWC-ordered inputs → PyTorch
//! `[out, in, kh, kw]` / `[out, in]` with CHW-ordered inputs; mean `[123.68, 116.779,
//! 103.939]` on 0–255 RGB pixels becomes `Normalize { mean/255, std 1/255 }` on `[0, 1]`
//! pixels); else by position in the file's order (then natural key order). Every tensor of
//! the file must be used (`num_batches_tracked` and a spec's `ignore` excepted); batch norm is
//! folded after filling.
//!
//! # Model specs
//! A TOML file ([`spec`]) names the architecture (a torchvision template, `mlp`, `lenet5`,
//! `onnx`, or a `custom` graph of `[[node]]` entries), weights, format, remap rules and the
//! preprocessing the weights expect; [`load_model`] folds that preprocessing into the first
//! layers so that every network takes raw `[0, 1]` RGB pixels.
pub mod error;
pub mod keymap;
pub mod load;
pub mod npz;
pub mod onnx;
pub mod pickle;
pub mod pth;
pub mod safetensors;
pub mod spec;
pub mod tensors;
pub mod zip;

pub use error::ImportError;
pub use keymap::{fill_template, Layout, MatchOptions, Matched, TORCHVISION_VGG16};
pub use load::{
    detect_format, fill_tensors, load_onnx, load_weights_auto, load_weights_bytes, read_tensors,
    Format,
};
pub use spec::{load_model, load_model_detailed, Loaded, ModelSpec, Preprocess};
pub use tensors::{RawTensor, TensorMap};
