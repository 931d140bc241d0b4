"""A transformer MLP block (up-projection, GELU, down-projection) in bf16 and in FP8 through fp8gen.nn.FP8Linear:
prints the FP8 output's error against bf16 and the speedup on this GPU.

    python examples/fp8_mlp.py [--tokens 4096] [--hidden 4096] [--ffn 14336] [--recipe block|channel]
"""

from __future__ import annotations

import argparse

import torch

from fp8gen.nn import FP8Linear


class MLP(torch.nn.Module):
    def __init__(self, up: torch.nn.Module, down: torch.nn.Module, activation=None):
        super().__init__()
        self.up, self.down, self.activation = up, down, activation

    def forward(self, x):
        h = self.up(x)
        return self.down(self.activation(h) if self.activation else h)


def time_ms(fn, x, repeats: int = 50) -> float:
    """Median time of one call, from a CUDA graph replayed `repeats` times."""
    graph = torch.cuda.CUDAGraph()
    fn(x)
    torch.cuda.synchronize()
    with torch.cuda.graph(graph):
        fn(x)
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return sorted(samples)[len(samples) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--ffn", type=int, default=14336)
    parser.add_argument("--recipe", default="block", choices=["block", "channel"])
    args = parser.parse_args()
    torch.manual_seed(0)
    up = torch.nn.Linear(args.hidden, args.ffn, device="cuda", dtype=torch.bfloat16)
    down = torch.nn.Linear(args.ffn, args.hidden, device="cuda", dtype=torch.bfloat16)
    bf16 = MLP(up, down, torch.nn.functional.gelu)
    # Block recipe: the up-projection's epilogue writes FP8 + 1x128 scales that the down-projection reads.
    fp8 = MLP(FP8Linear.from_linear(up, recipe=args.recipe, activation="gelu", quantize_output=args.recipe == "block"),
              FP8Linear.from_linear(down, recipe=args.recipe))
    x = torch.randn(args.tokens, args.hidden, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        ref, out = bf16(x).double(), fp8(x).double()
        diff = (1 - 2 * (ref * out).sum() / (ref * ref + out * out).sum()).item()
        rel = (torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref)).item()
        t_bf16, t_fp8 = time_ms(bf16, x), time_ms(fp8, x)
    flops = 2 * 2 * args.tokens * args.hidden * args.ffn
    print(f"MLP {args.tokens} tokens, hidden {args.hidden}, ffn {args.ffn}, recipe {args.recipe}")
    print(f"  FP8 vs bf16: relative error {rel:.3e}, DeepGEMM diff {diff:.2e}")
    print(f"  bf16 {t_bf16 * 1e3:8.1f} us ({flops / t_bf16 / 1e9:6.0f} TFLOP/s)")
    print(f"  fp8  {t_fp8 * 1e3:8.1f} us ({flops / t_fp8 / 1e9:6.0f} TFLOP/s)  speedup {t_bf16 / t_fp8:.2f}x "
          "(includes quantizing the input with torch ops)")


if __name__ == "__main__":
    main()
