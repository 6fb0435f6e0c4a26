"""Is the large bf16 error of depthwise-convolution networks bf16 itself, or our path? (issue 16)

Builds a MobileNetV2 (inverted residuals with depthwise 3x3 convolutions) and a ResNet-18 in torch (torchvision
is not usable here), random weights initialised as torchvision does, in eval mode; with `--calibrate` the
BatchNorm running statistics are first set from random batches (as a trained model has them). On the same input
it prints, per model, the output error against torch fp32 (max|a-r| / max|r| and cosine) of:
  ours             this package: from_torch, compile (bf16 autocast: BN folded into the conv, then its operands
                   rounded to bf16, fp32 accumulation), run
  emul unfolded    torch: each conv/linear reads bf16-rounded input and weight, accumulates in fp32, BN in fp32
  emul folded      torch: BN folded into the conv first (fuse_conv_bn_eval), then the same; bias in fp32
  emul fold+bias   as above, the folded bias also rounded to bf16
  torch autocast   torch.autocast('cpu', bfloat16): conv/linear in bf16 with bf16 outputs (torch's own mixed precision)
  ours, dw fp32    ours with the depthwise convolutions kept in fp32 (--autocast-exclude their names)
  ours, only dw    ours with every other conv/linear kept in fp32 (only the depthwise ones in bf16)
Figures are the mean (and largest) over --seeds inputs. Then the numerics debugger's table for the first input.
Run: python bench/numerics_depthwise.py [--size 224] [--calibrate] [--seeds 3]
"""
from __future__ import annotations

import argparse
import copy

import ml_dtypes
import numpy as np
import torch
from torch import nn

from tensorboard_plugin_neuron.analysis.numerics import NumericsView
from tensorboard_plugin_neuron.analysis.reports import numerics_text
from tensorboard_plugin_neuron.compiler import CompileOptions, compile_model
from tensorboard_plugin_neuron.compiler.fusion import is_depthwise
from tensorboard_plugin_neuron.graph.torch_import import from_torch
from tensorboard_plugin_neuron.runtime.numerics import run_compiled
from tensorboard_plugin_neuron.runtime.numerics_check import check_numerics


def _init(model: nn.Module) -> nn.Module:
    for m in model.modules():   # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return model


def conv_bn(c_in: int, c_out: int, k: int, stride: int, groups: int = 1, act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers = [conv_bn(c_in, hidden, 1, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, c_out, 1, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v2() -> nn.Module:
    layers, c_in = [conv_bn(3, 32, 3, 2)], 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
            c_in = c
    layers.append(conv_bn(c_in, 1280, 1, 1))
    return _init(nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)))


class Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.a, self.b = conv_bn(c_in, c_out, 3, stride, act=nn.ReLU), conv_bn(c_out, c_out, 3, 1, act=None)
        self.down = conv_bn(c_in, c_out, 1, stride, act=None) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        return torch.relu(self.b(self.a(x)) + self.down(x))


def resnet18() -> nn.Module:
    layers, c_in = [conv_bn(3, 64, 7, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)], 64
    for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Basic(c_in, c, s), Basic(c, c, 1)]
        c_in = c
    return _init(nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)))


def calibrate(model: nn.Module, size: int) -> None:
    """Running statistics from random batches (momentum None: the plain average), as training leaves them."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, size, size) * 2 + 0.5)
    model.eval()


def bf16(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.bfloat16).float()


def emulated(model: nn.Module, x: torch.Tensor, fold: bool, bias_bf16: bool) -> torch.Tensor:
    """Conv/linear operands rounded to bf16, fp32 accumulation (our device semantics), written in torch."""
    model = copy.deepcopy(model)
    if fold:
        for m in model.modules():
            if isinstance(m, nn.Sequential) and len(m) >= 2 and isinstance(m[0], nn.Conv2d) and isinstance(m[1], nn.BatchNorm2d):
                m[0] = torch.nn.utils.fusion.fuse_conv_bn_eval(m[0], m[1])
                m[1] = nn.Identity()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(bf16(m.weight))
                if bias_bf16 and m.bias is not None:
                    m.bias.copy_(bf16(m.bias))
                m.register_forward_pre_hook(lambda _, args: (bf16(args[0]),))
        return model(x)


def errors(device: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    d, r = device.astype(np.float64).ravel(), reference.astype(np.float64).ravel()
    return float(np.abs(d - r).max() / np.abs(r).max()), float(d @ r / np.sqrt((d @ d) * (r @ r)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    inputs = [torch.randn(1, 3, args.size, args.size) for _ in range(args.seeds)]
    print(f"input 1x3x{args.size}x{args.size} ({args.seeds} seeds), BN statistics: "
          f"{'calibrated' if args.calibrate else 'fresh (mean 0, var 1)'}")
    print(f"{'model':<12} {'variant':<16} {'max rel err mean (max)':>24} {'cosine mean':>12}")
    for name, build in (("MobileNetV2", mobilenet_v2), ("ResNet-18", resnet18)):
        model = build().eval()
        if args.calibrate:
            calibrate(model, args.size)
        graph = from_torch(model, (inputs[0],), name=name)
        depthwise = tuple(n.name for n in graph.nodes if is_depthwise(graph, n))
        others = tuple(n.name for n in graph.nodes if n.op_type in ("Conv", "Gemm", "MatMul") and n.name not in depthwise)
        builds = {"ours": compile_model(graph)}
        if depthwise:
            builds["ours, dw fp32"] = compile_model(graph, CompileOptions(autocast_exclude=depthwise))
            builds["ours, only dw"] = compile_model(graph, CompileOptions(autocast_exclude=others))
        results: dict[str, list[tuple[float, float]]] = {}
        for x in inputs:
            with torch.no_grad():
                reference = model(x).numpy()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    autocast = model(x).float().numpy()
            outputs = {key: next(iter(run_compiled(c, {c.source.inputs[0]: x.numpy()}).values())) for key, c in builds.items()}
            outputs.update({"emul unfolded": emulated(model, x, False, False).numpy(),
                            "emul folded": emulated(model, x, True, False).numpy(),
                            "emul fold+bias": emulated(model, x, True, True).numpy(), "torch autocast": autocast})
            for key, output in outputs.items():
                results.setdefault(key, []).append(errors(output, reference))
        for key, values in results.items():
            rel = np.array([v[0] for v in values])
            print(f"{name:<12} {key:<16} {100 * rel.mean():>14.2f}% ({100 * rel.max():.2f}%) {np.mean([v[1] for v in values]):>12.6f}",
                  flush=True)
        compiled = builds["ours"]
        table = check_numerics(compiled, {compiled.source.inputs[0]: inputs[0].numpy()})
        view = NumericsView(compiled.source, table, np.array([p.compute_dtype == "bf16" for p in compiled.placements]),
                            np.array([p.group for p in compiled.placements]))
        print(numerics_text(view, 8), flush=True)


if __name__ == "__main__":
    main()
