#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench -- peer`: the seed's GRPO step as its users run it.

The same masked character transformer as docs/model-format.md (pre-LN, bidirectional attention,
gelu tanh, final LN, masked_lm head or mean-pooled score), loaded from config.json +
model.safetensors, trained with the loss of docs/design.md, "The loss" (token_reduction "sum", exact KL) and
torch.optim.AdamW. Two modes:

  repeat  each input repeated k times: sampling, reference and update run on B·k sequences
          (what a "generate k completions" implementation does);
  group   one forward per input for sampling, reference and update; the k completions share its
          distribution (the best a PyTorch user could do in single-step fill-in).

The judge always scores B·k sequences. Every phase is timed with time.perf_counter.

  python3 grpo_peer.py --job=JOB.json     run a job written by tools/bench/src/peer.ts; one JSON
                                          line of results on stdout, progress on stderr
  python3 grpo_peer.py --self-check       checks this file on a tiny random model (not npm test)

Only the standard library and torch are used; safetensors are parsed here.
"""
import json
import math
import os
import re
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # the bench probes for torch first; this is for direct use
    sys.stderr.write(f"grpo_peer.py needs PyTorch ({err}); on Debian: apt-get install -y python3-torch libopenblas0-pthread\n")
    sys.exit(3)

# The logit given to [MASK]/[PAD]: effectively −∞ but finite, so p·log p is 0 in the exact KL
# (libs/model/src/special-tokens.ts BANNED_LOGIT).
BANNED_LOGIT = -1e9
LINEAR_NAMES = re.compile(r"(^|\.)(qkv|out|fc|proj|head|score)\.weight$")


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# safetensors: [u64 LE header length N][N bytes JSON header][raw little-endian data]

SAFE_DTYPES = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path} is {len(raw)} bytes; a safetensors file starts with an 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = bytearray(raw[8 + n :])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFE_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}; expected one of {sorted(SAFE_DTYPES)}")
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        item = torch.empty((), dtype=dtype).element_size()
        if end - begin != count * item:
            raise ValueError(f"{path}: tensor {name} spans {end - begin} bytes; shape {info['shape']} needs {count * item}")
        t = torch.frombuffer(data, dtype=dtype, count=count, offset=begin) if count else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


# ---------------------------------------------------------------------------------------------
# The model (nanoGPT-style modules; state-dict names are docs/model-format.md's)


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.h
        # columns are q | k | v, head h at h·dh … (h+1)·dh − 1
        q, k, v = self.qkv(x).view(b, t, 3, self.h, dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh)), dim=-1)  # no causal mask
        return self.out((att @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.fc = nn.Linear(d, f)
        self.proj = nn.Linear(f, d)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["d_model"], c["ln_eps"]
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, c["n_head"])
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.mlp = Mlp(d, c["d_ff"])

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MaskedTransformer(nn.Module):
    """ids [B, T] → masked_lm: logits [B, T, V]; sequence_scorer: scores [B]."""

    def __init__(self, c):
        super().__init__()
        if c.get("activation", "gelu_tanh") != "gelu_tanh":
            raise ValueError(f"activation {c['activation']}; this peer implements gelu_tanh only")
        if c.get("dropout", 0) != 0:
            raise ValueError(f"dropout {c['dropout']}; the bench's models have none (GRPO steps would then differ by dropout noise)")
        self.c = c
        self.tok_emb = nn.Embedding(c["vocab_size"], c["d_model"])
        self.pos_emb = nn.Embedding(c["seq_len"], c["d_model"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["d_model"], eps=c["ln_eps"])
        if c["model_type"] == "masked_lm":
            self.head = nn.Linear(c["d_model"], c["vocab_size"])
        elif c["model_type"] == "sequence_scorer":
            self.score = nn.Linear(c["d_model"], 1)
        else:
            raise ValueError(f"model_type {c['model_type']}; expected masked_lm or sequence_scorer")

    def forward(self, ids):
        t = ids.shape[1]
        h = self.tok_emb(ids) + self.pos_emb.weight[:t]
        for block in self.blocks:
            h = block(h)
        h = self.ln_f(h)
        if self.c["model_type"] == "masked_lm":
            return self.head(h)
        return self.score(h.mean(dim=1)).squeeze(-1)

    @staticmethod
    def from_checkpoint(folder):
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        model = MaskedTransformer(config)
        tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
        state = {}
        for name, t in tensors.items():
            # our linear weights are [in, out]; torch.nn.Linear keeps [out, in]
            state[name] = t.t().contiguous() if LINEAR_NAMES.search(name) else t
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{folder}/model.safetensors does not match config.json: missing {missing}, unexpected {unexpected}")
        return model


# ---------------------------------------------------------------------------------------------
# The GRPO pieces (docs/design.md, "The algorithm")


def masked_log_softmax(logits, temperature, banned):
    """log softmax(logits / τ) with the banned ids at BANNED_LOGIT (libs/model sampling.ts)."""
    scaled = logits / temperature
    scaled = scaled.index_fill(-1, banned, BANNED_LOGIT)
    return torch.log_softmax(scaled, dim=-1)


def sample_top_p(logp_rows, top_p, count, gen):
    """`count` tokens per row from exp(logp) truncated to the smallest set reaching top_p: [R, count]."""
    probs = logp_rows.exp()
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p
    kept = torch.where(before < top_p, sorted_p, torch.zeros_like(sorted_p))
    picks = torch.multinomial(kept, count, replacement=True, generator=gen)  # renormalises
    return order.gather(-1, picks)


def advantages_global(rewards, k, std_floor, eps=1e-8):
    """Seed default: A = r − mean_j r, then (A − mean A)/(max(std A, floor) + eps); flat groups 0."""
    r = rewards.double().view(-1, k)
    flat = (r == r[:, :1]).all(dim=1, keepdim=True)
    a = torch.where(flat, torch.zeros_like(r), r - r.mean(dim=1, keepdim=True))
    a = (a - a.mean()) / (max(a.std(unbiased=False).item(), std_floor) + eps)
    return torch.where(flat, torch.zeros_like(a), a).float().view(-1)


def cosine_lr(step, hp):
    """libs/model optim-math.ts cosineLearningRate (steps from 0)."""
    lr, warm, max_steps, min_ratio = hp["learning_rate"], hp["warmup_iters"], hp["max_iters"], hp["min_lr_ratio"]
    if warm > 0 and step < warm:
        return lr * (step + 1) / warm
    min_lr = lr * min_ratio
    if step >= max_steps or max_steps - warm <= 0:
        return min_lr
    progress = (step - warm) / (max_steps - warm)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


def grpo_loss(logp, ref_logp, completions, mask, adv, k, beta):
    """
    L = −mean_ij[log π(a_ij|x_i)·A_ij] + β·mean_ij KL_ij, log π and KL summed over masked positions.
    logp/ref_logp [R, T, V] with R = B (group: the k completions of row i share it) or R = B·k
    (repeat: one row per completion); completions [B·k, T]; mask [B, T] bool; adv [B·k].
    """
    n = adv.numel()
    rows = logp.shape[0]
    per_row = n // rows  # k in group mode, 1 in repeat mode
    t = completions.shape[-1]
    comp = completions.view(rows, per_row, t)
    token = logp.gather(-1, comp.transpose(1, 2)).transpose(1, 2)  # [R, per_row, T]
    m = mask.repeat_interleave(k // per_row, dim=0).unsqueeze(1).to(logp.dtype)  # [R, 1, T]
    log_pi = (token * m).sum(-1).reshape(-1)  # [B·k]
    pg = -(log_pi * adv).sum() / n
    kl_tok = (logp.exp() * (logp - ref_logp)).sum(-1)  # [R, T]
    kl = (kl_tok * m[:, 0]).sum() * per_row / n
    return pg + beta * kl, pg, kl, log_pi.mean()


class Peer:
    def __init__(self, gen_dir, judge_dir, hp, mode, seed):
        self.policy = MaskedTransformer.from_checkpoint(gen_dir)
        self.reference = MaskedTransformer.from_checkpoint(gen_dir)
        self.judge = MaskedTransformer.from_checkpoint(judge_dir)
        for model in (self.reference, self.judge):
            model.eval()
            model.requires_grad_(False)
        c = self.policy.c
        if self.judge.c["seq_len"] != c["seq_len"]:
            raise ValueError(f"judge seq_len {self.judge.c['seq_len']} differs from the generator's {c['seq_len']}")
        self.mask_id = c["mask_token_id"]
        self.banned = torch.tensor(sorted({c["mask_token_id"], c["pad_token_id"]}), dtype=torch.long)
        self.hp = hp
        self.mode = mode
        decay = [p for n, p in self.policy.named_parameters() if LINEAR_NAMES.search(n)]
        other = [p for n, p in self.policy.named_parameters() if not LINEAR_NAMES.search(n)]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": other, "weight_decay": 0.0}],
            lr=hp["learning_rate"], betas=(hp["beta1"], hp["beta2"]), eps=hp["adam_eps"],
        )
        self.gen = torch.Generator().manual_seed(seed)
        self.steps_done = 0

    def step(self, x):
        """One GRPO step on inputs x [B, T]; returns phase times (ms) and metrics."""
        hp, k, tau = self.hp, self.hp["group_size"], self.hp["temperature"]
        b, t = x.shape
        mask = x == self.mask_id
        xk = x.repeat_interleave(k, dim=0)  # [B·k, T]
        maskk = mask.repeat_interleave(k, dim=0)
        rows_x = xk if self.mode == "repeat" else x
        times = {}
        t0 = time.perf_counter()

        with torch.no_grad():
            logp = masked_log_softmax(self.policy(rows_x), tau, self.banned)
            if self.mode == "repeat":
                drawn = sample_top_p(logp[maskk], hp["top_p"], 1, self.gen)[:, 0]  # one per copy
            else:
                # k draws per masked position of each input, laid out as completion j of input i
                picks = sample_top_p(logp[mask], hp["top_p"], k, self.gen)  # [M, k]
                pos = mask.nonzero()
                drawn_grid = torch.zeros(b, k, t, dtype=torch.long)
                drawn_grid[pos[:, 0], :, pos[:, 1]] = picks
                drawn = drawn_grid.view(b * k, t)[maskk]
            completions = xk.clone()
            completions[maskk] = drawn
        t1 = time.perf_counter()
        times["sample_ms"] = (t1 - t0) * 1e3

        with torch.no_grad():
            rewards = self.judge(completions)
        t2 = time.perf_counter()
        times["judge_ms"] = (t2 - t1) * 1e3

        with torch.no_grad():
            ref_logp = masked_log_softmax(self.reference(rows_x), tau, self.banned)
        t3 = time.perf_counter()
        times["reference_ms"] = (t3 - t2) * 1e3

        adv = advantages_global(rewards, k, hp["std_floor"])
        t4 = time.perf_counter()
        times["advantage_ms"] = (t4 - t3) * 1e3

        lr = cosine_lr(self.steps_done, hp)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.policy.train()
        logp = masked_log_softmax(self.policy(rows_x), tau, self.banned)
        loss, pg, kl, mean_lp = grpo_loss(logp, ref_logp, completions, mask, adv, k, hp["kl_beta"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), hp["grad_clip"])
        self.opt.step()
        self.steps_done += 1
        t5 = time.perf_counter()
        times["update_ms"] = (t5 - t4) * 1e3
        times["step_ms"] = (t5 - t0) * 1e3
        metrics = {
            "loss": loss.item(), "pg_loss": pg.item(), "mean_kl": kl.item(), "mean_log_prob": mean_lp.item(),
            "mean_reward": rewards.mean().item(), "grad_norm": grad_norm.item(), "learning_rate": lr,
        }
        return times, metrics


def median(values):
    s = sorted(values)
    n = len(s)
    return float("nan") if n == 0 else (s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]))


def blas_library():
    """The BLAS shared library this process mapped (OpenBLAS pthread is what Debian's torch should use)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(os.path.basename(l) for l in libs)) or "none found"
    except OSError:
        return "unknown"


def read_inputs(path, count, b, t):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) != count * b * t * 4:
        raise ValueError(f"{path} holds {len(raw)} bytes; expected {count} batches × {b} × {t} int32 = {count * b * t * 4}")
    return torch.frombuffer(raw, dtype=torch.int32).view(count, b, t).long()


def run_job(job):
    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    hp = job["hp"]
    b, warmup, steps = job["batch_size"], job["warmup"], job["steps"]
    with open(os.path.join(job["generator"], "config.json")) as f:
        t = json.load(f)["seq_len"]
    inputs = read_inputs(job["inputs"], warmup + steps, b, t)
    out = {"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(), "blas": blas_library(), "modes": {}}

    # The correctness check: logits and judge scores for the first batch, for the TS side to compare.
    check = job.get("check")
    if check:
        policy = MaskedTransformer.from_checkpoint(job["generator"]).eval()
        judge = MaskedTransformer.from_checkpoint(job["judge"]).eval()
        with torch.no_grad():
            ids = inputs[0]
            with open(check["logits"], "wb") as f:
                f.write(policy(ids).float().contiguous().numpy().tobytes())
            with open(check["scores"], "wb") as f:
                f.write(judge(ids).float().contiguous().numpy().tobytes())
        del policy, judge

    for mode in job["modes"]:
        peer = Peer(job["generator"], job["judge"], hp, mode, job["seed"])
        records = []
        for i in range(warmup + steps):
            times, metrics = peer.step(inputs[i])
            tag = "warm-up" if i < warmup else f"step {i - warmup + 1}/{steps}"
            log(f"  peer {mode}: {tag} {times['step_ms'] / 1e3:.2f}s (loss {metrics['loss']:.4f})")
            if i >= warmup:
                records.append((times, metrics))
        keys = records[0][0].keys()
        rows_fwd = b * hp["group_size"] if mode == "repeat" else b
        out["modes"][mode] = {
            "median_ms": {key[: -len("_ms")]: median([r[0][key] for r in records]) for key in keys},
            "steps_ms": [r[0]["step_ms"] for r in records],
            "metrics": [r[1] for r in records],
            "forward_rows": {"sample": rows_fwd, "judge": b * hp["group_size"], "reference": rows_fwd, "update": rows_fwd},
        }
        del peer
    return out


# ---------------------------------------------------------------------------------------------
# Self-check (python3 grpo_peer.py --self-check): not part of npm test


def self_check():
    import tempfile

    torch.manual_seed(0)
    vocab = ["[PAD]", "[MASK]"] + [chr(c) for c in range(97, 107)]
    c = {"model_type": "masked_lm", "vocab_size": len(vocab), "seq_len": 8, "n_layer": 2, "n_head": 2, "d_model": 8, "d_ff": 16,
         "dropout": 0, "ln_eps": 1e-5, "activation": "gelu_tanh", "vocab": vocab, "mask_token_id": 1, "pad_token_id": 0}
    model = MaskedTransformer(c)
    with tempfile.TemporaryDirectory() as d:
        # write the checkpoint the way libs/model does (linear weights [in, out]) and read it back
        tensors = {n: (p.detach().t().contiguous() if LINEAR_NAMES.search(n) else p.detach()) for n, p in model.state_dict().items()}
        header, blobs, offset = {}, [], 0
        for name in sorted(tensors):
            raw = tensors[name].float().numpy().tobytes()
            header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
        hj = json.dumps(header).encode()
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f)
        loaded = MaskedTransformer.from_checkpoint(d)
    ids = torch.randint(2, len(vocab), (3, 8))
    ids[:, 2:5] = 1
    assert torch.equal(model(ids), loaded(ids)), "safetensors round trip changed the model"

    # The group loss (one row per input) equals the repeat loss (k rows per input), gradients too.
    k, mask = 4, ids == 1
    banned = torch.tensor([0, 1])
    comp = ids.repeat_interleave(k, 0)
    comp[mask.repeat_interleave(k, 0)] = torch.randint(2, len(vocab), (int(mask.sum()) * k,))
    adv = torch.randn(3 * k)
    ref = masked_log_softmax(torch.randn(3, 8, len(vocab)), 0.8, banned)
    grads = []
    for rows in (ids, ids.repeat_interleave(k, 0)):
        loaded.zero_grad()
        r = ref if rows.shape[0] == 3 else ref.repeat_interleave(k, 0)
        loss = grpo_loss(masked_log_softmax(loaded(rows), 0.8, banned), r, comp, mask, adv, k, 0.1)[0]
        loss.backward()
        grads.append((loss.item(), torch.cat([p.grad.flatten() for p in loaded.parameters()])))
    assert abs(grads[0][0] - grads[1][0]) < 1e-5, f"group loss {grads[0][0]} != repeat loss {grads[1][0]}"
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5), "group and repeat gradients differ"

    # Top-p keeps the smallest set reaching the mass; banned ids are never drawn.
    lp = masked_log_softmax(torch.tensor([[0.0, 0.0, 3.0, 2.9, -5.0] + [-9.0] * 7]), 1.0, banned)
    drawn = sample_top_p(lp, 0.6, 2000, torch.Generator().manual_seed(1))
    assert set(drawn.flatten().tolist()) <= {2, 3}, f"top-p drew {set(drawn.flatten().tolist())}"
    r = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 2.0])
    a = advantages_global(r, 3, 1e-2)
    assert torch.equal(a[:3], torch.zeros(3)) and abs(a[3].item() + a[5].item()) < 1e-6, f"advantages {a}"
    print("grpo_peer self-check: ok (safetensors round trip, group = repeat loss and gradients, top-p, advantages)")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--self-check"]:
        self_check()
    elif len(args) == 1 and args[0].startswith("--job="):
        with open(args[0][len("--job="):]) as f:
            result = run_job(json.load(f))
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
