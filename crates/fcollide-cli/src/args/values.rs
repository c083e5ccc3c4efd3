//! Every enumerated flag value as a clap [`ValueEnum`] (clap lists the choices in `--help`
//! and refuses any other value with exit code 2), each with its conversion to the library's
//! type.
use clap::ValueEnum;
use fcollide::collide::{BoxMethod, Engine, Penalty, RegionMode, UnitChoice};
use fcollide::data::transform::Resize;
use fcollide::exact::LpSolver;
use fcollide::patches::knn::Directions;

/// Maps a CLI value enum onto the library enum of the same variants.
macro_rules! value_enum {
    ($(#[$doc:meta])* $name:ident => $lib:ty { $($(#[$vdoc:meta])* $v:ident => $lv:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $v),+
        }

        impl From<$name> for $lib {
            fn from(a: $name) -> Self {
                match a {
                    $($name::$v => <$lib>::$lv),+
                }
            }
        }
    };
}

/// `--device`: the compute device.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// burn-flex on the CPU.
    #[value(alias = "flex")]
    Cpu,
    /// CUDA (a build with `--features cuda`).
    Cuda,
}

impl DeviceArg {
    /// The library's name of the device ([`fcollide::model::device_by_name`]).
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        }
    }
}

value_enum! {
    /// `--lp-solver`: the solver of the vertex LPs.
    LpSolverArg => LpSolver {
        /// The dense dual simplex up to 1,024 rows, with row generation above.
        Auto => Auto,
        /// Always the dense dual simplex over all rows.
        Dense => Dense,
        /// Always HiGHS (a build with `--features highs`).
        Highs => Highs,
    }
}

value_enum! {
    /// `--region`: where the vertices may lie.
    RegionArg => RegionMode {
        /// Locked when the layer lies behind a nonlinearity.
        Auto => Auto,
        /// Always in the target's linear region.
        Locked => Locked,
        /// Anywhere (the paper's search).
        Free => Free,
    }
}

value_enum! {
    /// `--unit-choice`: which units of Z are pushed without `--units`.
    UnitChoiceArg => UnitChoice {
        /// The first K of Z (the paper).
        First => First,
        /// K evenly over Z.
        Spread => Spread,
    }
}

value_enum! {
    /// `--penalty`: the penalty on the other zero-set units.
    PenaltyArg => Penalty {
        /// y² (the paper).
        Square => Square,
        /// |y| (the authors' code).
        Abs => Abs,
        /// max(y, 0)².
        Hinge => Hinge,
    }
}

value_enum! {
    /// `--box`: how the pixel box [0, 1] is kept.
    BoxArg => BoxMethod {
        /// Clip after every step.
        Project => Project,
        /// Optimize through a sigmoid.
        Sigmoid => Sigmoid,
    }
}

value_enum! {
    /// `--engine`: how gradients are computed.
    EngineArg => Engine {
        /// Closed form when every layer up to the collision layer is affine.
        Auto => Auto,
        /// Always closed form.
        Affine => Affine,
        /// Always burn's autodiff.
        Autodiff => Autodiff,
    }
}

value_enum! {
    /// `--directions`: the projection directions of a DCI index.
    DirectionsArg => Directions {
        /// Isotropic random directions (the paper).
        Isotropic => Isotropic,
        /// Differences of data points.
        Data => DataDifferences,
    }
}

value_enum! {
    /// `--resize`: how an image of another size is brought to the model's.
    ResizeArg => Resize {
        /// torchvision's Resize(256) + CenterCrop(224), scaled.
        Standard => Standard,
        /// Shorter side straight to the crop size (Lanczos), then a centre crop.
        Direct => Direct,
    }
}

/// `audit --split`: which split of the data is audited.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitArg {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

impl SplitArg {
    /// Its name in the audit's record.
    pub fn name(self) -> &'static str {
        match self {
            SplitArg::Train => "train",
            SplitArg::Test => "test",
        }
    }
}
