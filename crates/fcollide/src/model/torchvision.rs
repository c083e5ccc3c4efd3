//! The torchvision classifiers fcollide has templates for ([`crate::model::zoo`] builds
//! them). A leaf module: the file readers ([`crate::model::import`]) name these
//! architectures in their messages without depending on the templates, which depend on the
//! readers to fill their weights.

/// The names [`crate::model::zoo::template`] knows.
pub const NAMES: [&str; 25] = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg11_bn",
    "vgg13_bn",
    "vgg16_bn",
    "vgg19_bn",
    "mobilenet_v2",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "squeezenet1_0",
    "squeezenet1_1",
];
