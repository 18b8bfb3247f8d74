"""The small CNN of the image evaluation: trained on synthetic (TSTR) or real (TRTR) images; the real-trained
one also gives the feature space of the Fréchet distance (no pretrained weights are needed or downloaded).

``Conv 3×3 (16) → ReLU → MaxPool → Conv 3×3 (32) → ReLU → MaxPool → AdaptiveAvgPool 7×7 → Linear 64 → ReLU →
Linear k``; the 64 units before the last layer are the features. Adam (lr 1e-3, weight decay 1e-4), class-
weighted cross-entropy (weights ∝ 1 / class frequency of its training set, so an imbalanced training set does
not reduce it to the prior), a fixed number of epochs (no model selection on the test split). Initialisation and
shuffling come from a seeded ``torch.Generator``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn import functional as F

from ehrsynth.models.init import init_module

FEATURES = 64


class SmallCNN(nn.Module):
    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7),
            nn.Flatten(),
            nn.Linear(32 * 49, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_cnn(
    x: torch.Tensor,
    y: np.ndarray,
    n_classes: int,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
) -> SmallCNN:
    """Train on ``x`` (float NCHW in [-1, 1]) with class indices ``y`` (0..n_classes-1)."""
    model = SmallCNN(x.shape[1], n_classes)
    init_module(model, generator)
    model.to(device)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    labels = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx].to(device)), labels[idx].to(device), weight=w)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict(
    model: SmallCNN, x: torch.Tensor, device: torch.device, batch: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(class probabilities, features) for ``x``."""
    probs, feats = [], []
    for start in range(0, x.shape[0], batch):
        h = model.body(x[start : start + batch].to(device))
        probs.append(F.softmax(model.head(h), dim=1).cpu().numpy())
        feats.append(h.cpu().numpy())
    return np.concatenate(probs).astype(np.float64), np.concatenate(feats).astype(np.float64)


def auc(y: np.ndarray, probs: np.ndarray) -> float:
    """ROC AUC: binary (positive = class index 1) or macro one-vs-rest over all classes."""
    if probs.shape[1] == 2:
        return float(roc_auc_score(y, probs[:, 1]))
    return float(
        roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=np.arange(probs.shape[1]))
    )
