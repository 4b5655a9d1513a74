"""chainrule.nn: neural networks on the scalar engine.

Modules (:class:`Neuron`, :class:`Layer`, :class:`MLP`, :class:`Dropout`,
:class:`Maxout`, :class:`Sequential`, :class:`Residual`), losses and penalties,
optimizers with PyTorch's update rules, learning-rate schedules, toy data sets, data
preparation (:class:`Standardizer`, :class:`Imputer`, :class:`OneHotEncoder`),
:func:`k_fold` and :func:`jitter`, a CSV loader, a training loop (:func:`fit`) and JSON
persistence (``Module.save`` / :func:`load`).

Example:
    >>> from chainrule.nn import MLP, fit, make_moons
    >>> X, y = make_moons(100, noise=0.1, seed=0)
    >>> model = MLP(2, [16, 16, 1], seed=0)
    >>> history = fit(model, X, y, epochs=2, progress=False)
    >>> history.epochs
    2
"""

from chainrule.engine import Value

from .data import (
    Batches,
    Fold,
    Imputer,
    OneHotEncoder,
    Split,
    Standardizer,
    jitter,
    k_fold,
    load_csv,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression,
    make_spiral,
    make_xor,
    train_val_test_split,
)
from .losses import (
    accuracy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    elastic_net_penalty,
    hinge_loss,
    l1_penalty,
    l2_penalty,
    log_softmax,
    mae_loss,
    mse_loss,
    softmax,
)
from .module import (
    ACTIVATIONS,
    INITS,
    MLP,
    Activation,
    Dropout,
    Layer,
    Maxout,
    Module,
    Neuron,
    Residual,
    Sequential,
)
from .optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    LRScheduler,
    Optimizer,
    RMSprop,
    StepLR,
    clip_grad_norm,
)
from .persistence import ModelFormatError, SpecialFileError, load, save
from .training import History, evaluate, fit, predict

__all__ = [
    "ACTIVATIONS", "INITS", "MLP", "SGD", "Activation", "Adagrad", "Adam", "AdamW", "Batches",
    "CosineAnnealingLR", "Dropout", "Fold", "History", "Imputer", "LRScheduler", "Layer",
    "LinearLR", "Maxout", "ModelFormatError", "Module", "Neuron", "OneHotEncoder", "Optimizer",
    "RMSprop", "Residual", "Sequential", "SpecialFileError", "Split", "Standardizer", "StepLR",
    "Value", "accuracy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "clip_grad_norm", "cross_entropy", "elastic_net_penalty", "evaluate", "fit", "hinge_loss",
    "jitter", "k_fold", "l1_penalty", "l2_penalty", "load", "load_csv", "log_softmax", "mae_loss",
    "make_circles", "make_gaussians", "make_moons", "make_regression", "make_spiral", "make_xor",
    "mse_loss", "predict", "save", "softmax", "train_val_test_split",
]
