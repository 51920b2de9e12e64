"""Named augmentation recipes from the papers, sized for a given image side."""

from __future__ import annotations

from dataclasses import replace

from ssl_engine.augment.config import ViewAugmentConfig

# Gaussian blur on images this small mostly erases them; CIFAR recipes drop it.
SMALL_IMAGE_MAX_SIZE = 64


def simclr_config(image_size: int) -> ViewAugmentConfig:
    """SimCLR (Chen et al., 2020, appendix A): crop, flip, jitter 0.8, grayscale 0.2.

    Blur (p = 0.5 in the paper's ImageNet recipe) is kept only above 64 px, as the
    paper's own CIFAR-10 experiments leave it out.
    """
    blur_p = 0.0 if image_size <= SMALL_IMAGE_MAX_SIZE else 0.5
    return ViewAugmentConfig(output_size=image_size, blur_p=blur_p)


def byol_configs(image_size: int) -> tuple[ViewAugmentConfig, ViewAugmentConfig]:
    """BYOL's two asymmetric views (Grill et al., 2020, appendix B, table 6).

    Both: crop, flip 0.5, jitter 0.8 with strengths 0.4/0.4/0.2/0.1, grayscale 0.2.
    View 1 is always blurred and never solarised; view 2 is blurred with p = 0.1 and
    solarised with p = 0.2. For images <= 64 px blur is off in both views, the common
    choice for CIFAR-sized data, where a Gaussian blur leaves little to learn from.
    """
    small = image_size <= SMALL_IMAGE_MAX_SIZE
    shared = ViewAugmentConfig(
        output_size=image_size, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1
    )
    view_1 = replace(shared, blur_p=0.0 if small else 1.0, solarize_p=0.0)
    view_2 = replace(shared, blur_p=0.0 if small else 0.1, solarize_p=0.2)
    return view_1, view_2


def crop_flip_config(image_size: int) -> ViewAugmentConfig:
    """Random resized crop with scale (0.2, 1) and a flip, nothing else.

    MAE's pretraining augmentation (He et al., "Masked Autoencoders Are Scalable Vision
    Learners", 2021, appendix A.1); reconstruction methods need no colour distortion.
    """
    return ViewAugmentConfig(
        output_size=image_size,
        crop_scale=(0.2, 1.0),
        jitter_p=0.0,
        grayscale_p=0.0,
        blur_p=0.0,
        solarize_p=0.0,
    )


def moco_v2_config(image_size: int) -> ViewAugmentConfig:
    """MoCo v2's views: SimCLR's recipe with crops of at least 20% of the image.

    (Chen et al., 2020, "Improved Baselines", section 2; SimSiam reuses it.) Blur follows
    ``simclr_config``: on above 64 px, off for CIFAR-sized images.
    """
    return replace(simclr_config(image_size), crop_scale=(0.2, 1.0))


def swav_config(image_size: int) -> ViewAugmentConfig:
    """SwAV's two high-resolution views: SimCLR's recipe with crops of 14% to 100%.

    (Caron et al., 2020, multi-crop, section 3.2: in the authors' training scripts the
    full-size crops take scale (0.14, 1) and the small ones (0.05, 0.14); only the
    full-size pair is reproduced. lightly's CIFAR-10 benchmark crops the same range.)
    """
    return replace(simclr_config(image_size), crop_scale=(0.14, 1.0))


def clusterfit_config(image_size: int) -> ViewAugmentConfig:
    """ClusterFit's training view (Yan et al., CVPR 2020, as in VISSL's configuration):
    a random resized crop (0.08 to 1), colour jitter 0.4/0.4/0.4 and hue 0.2 on every
    image, and a flip: supervised ImageNet training's augmentation, as the second stage
    is a classifier trained on cluster ids."""
    return ViewAugmentConfig(
        output_size=image_size,
        jitter_p=1.0,
        hue=0.2,
        grayscale_p=0.0,
        blur_p=0.0,
        solarize_p=0.0,
    )
