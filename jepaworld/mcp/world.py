"""What the tools act on: the world model, live environment sessions, named goals, and what the probe reads.

    world = World(jepaworld.load(run), WorldSettings(memory="mem.sqlite"))
    world.describe().facts;  s = world.start(seed=3).facts["session"];  world.go_to(s, "door")

Every method returns an ``Answer``: JSON-ready facts with a one-line ``summary`` in words, and PNG
images. An input problem raises ``JepaworldError`` saying what to fix (the server answers it as a
tool error). One lock serialises the calls: there is one model and one memory file.

Goals live in the memory file (``--memory``: persistent, with its remembered states for
``observe``'s nearest state and ``go_to``'s routes) or, without one, in a scratch memory that
goes when the server stops. Entities are read from embeddings by the memory's linear probe, or by
one fitted at start-up on the run's training episodes.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.agent.latent import LatentHistory
from jepaworld.envs import get_spec, make
from jepaworld.envs.goal import goal_distance, goal_provider, require_goal_env
from jepaworld.errors import JepaworldError
from jepaworld.hosting import SessionStore
from jepaworld.mcp.describe import UNITS, entity_values, surprise_facts
from jepaworld.mcp.images import decode_png, film_strip, view
from jepaworld.mcp.probe import agent_parts, entity_probe
from jepaworld.mcp.pursue import pursue
from jepaworld.mcp.session import Imagined, Live, check_actions
from jepaworld.memory import NearestIndex, env_entities, open_for
from jepaworld.memory.query import add_goal
from jepaworld.model.surprise import SurpriseMeter

log = logging.getLogger(__name__)
AGENTS = ("guarded", "planner")


@dataclass
class WorldSettings:
    """Limits and sources of one server (``jepaworld mcp --help`` documents each)."""

    memory: str | None = None  # memory file: persistent goals, remembered states, routes
    env: str | None = None  # the env sessions run (default: the run's)
    max_sessions: int = 8
    session_ttl_s: float = 900.0
    max_steps: int = 1000  # go_to's budget at most
    max_actions: int = 500  # step's actions per call
    max_imagine_blocks: int = 20
    probe_frames: int = 2000  # training frames the entity probe is fitted on (without a memory's probe)


@dataclass
class Answer:
    facts: dict[str, Any]
    images: list[bytes] = field(default_factory=list)


class World:
    """The model, its sessions, goals and probe (see the module docstring); ``close()`` when done."""

    def __init__(self, model: Any, settings: WorldSettings | None = None) -> None:
        self.model, self.settings = model, settings or WorldSettings()
        meta = model.meta
        self.env_name = self.settings.env or meta.env
        self.spec = get_spec(self.env_name)
        if self.spec.action_dim != meta.action_dim:
            raise JepaworldError(f"--env {self.env_name} has {self.spec.action_dim}-dim actions; the run was "
                                 f"trained on {meta.env} with {meta.action_dim}: pass an env with the run's "
                                 "actions")  # fmt: skip
        probe_env = make(self.env_name, resolution=meta.resolution)
        require_goal_env(probe_env, self.env_name, "the MCP server (start from a state, goals, success)")
        probe_env.reset(seed=0)
        self.state_dim = int(np.asarray(goal_provider(probe_env).get_state()).size)
        probe_env.close()
        self.entities = env_entities(self.env_name, self.state_dim)
        self._scratch = None
        if self.settings.memory:
            self.store = open_for(model, self.settings.memory)
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="jepaworld-mcp-")
            self.store = open_for(model, Path(self._scratch.name) / "goals.sqlite", create=True)
        ids, z = self.store.embeddings()
        self.index = NearestIndex(ids, z) if len(ids) else None
        self.decoder, self.decoder_source = entity_probe(model, self.store, self.settings.probe_frames)
        self.policy, self.guard, self.agent_note = agent_parts(model)
        self.sessions: SessionStore[Live] = SessionStore(self.settings.session_ttl_s, self.settings.max_sessions,
                                                         on_drop=lambda s: s.env.close())  # fmt: skip
        self.navigator: Any = None  # memory routes, built at the first routed go_to
        self.lock = threading.Lock()

    def close(self) -> None:
        self.sessions.clear()
        if self.navigator is not None:
            self.navigator.close()
        self.store.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    # ------------------------------------------------------------------------------ helpers
    def _session(self, session_id: str) -> Live:
        s = self.sessions.get(session_id)
        if s is None:
            raise JepaworldError(f"no session {session_id!r}: it was closed, or expired after "
                                 f"{self.settings.session_ttl_s:g} s idle; call start for a new one")  # fmt: skip
        return s

    def _read(self, z: torch.Tensor | np.ndarray) -> dict[str, dict[str, float]] | None:
        """Entities the probe reads from one embedding (D,)."""
        if self.decoder is None:
            return None
        zz = torch.as_tensor(z).reshape(1, -1).float().cpu().numpy()
        return entity_values(self.entities, self.decoder.decode(zz)[0])

    def _state(self, s: Live) -> dict[str, dict[str, float]]:
        return entity_values(self.entities, np.asarray(goal_provider(s.env).get_state(), np.float32))

    def _nearest(self, z: torch.Tensor) -> dict[str, Any] | None:
        if self.index is None:
            return None
        ids, dist = self.index.search(z.reshape(-1).cpu(), k=1)
        info = self.store.state_info(int(ids[0]))
        found = info["state"] if info["state"] is not None else info["decoded"]
        return {"id": info["id"], "episode": info["episode"], "step": info["step"], "latent_distance": float(dist[0]),
                "entities": None if found is None else entity_values(self.entities, found)}  # fmt: skip

    def _frame_facts(self, s: Live) -> dict[str, Any]:
        z = s.history.z[0]
        return {"session": s.id, "step": s.steps, "state": self._state(s), "entities": self._read(z),
                "nearest_remembered": self._nearest(z)}  # fmt: skip

    # -------------------------------------------------------------------------------- tools
    def describe(self) -> Answer:
        meta, spec = self.model.meta, self.spec
        goals = self.store.goal_names()
        ents = {n: {"fields": f, "units": UNITS.get(self.env_name, "the env's state units")}
                for n, (_, f) in self.entities.items()}  # fmt: skip
        agents = {"planner": f"latent MPC: {self.model.config.plan.describe()}",
                  "guarded": self.agent_note if self.policy is None else
                  f"the distilled policy, re-planning when surprised ({self.agent_note})"}  # fmt: skip
        facts = {
            "env": self.env_name, "entities": ents, "state_dim": self.state_dim,
            "action": {"dim": meta.action_dim, "low": spec.action_low.tolist(), "high": spec.action_high.tolist(),
                       "frameskip": meta.frameskip,
                       "note": f"the model sees a frame every {meta.frameskip} actions (one block)"},
            "run": {"path": str(Path(self.model.checkpoint_path).parent.parent), "step": int(meta.step),
                    "trained_on": meta.env, "resolution": meta.resolution, "history": meta.history},
            "agents": agents, "default_agent": "guarded" if self.policy is not None else "planner",
            "goals": goals,
            "memory": {"path": str(self.store.path), "persistent": self._scratch is None,
                       "remembered_states": 0 if self.index is None else len(self.index)},
            "entity_probe": self.decoder_source, **surprise_facts(self.guard),
            "sessions": {"open": len(self.sessions), "max": self.settings.max_sessions,
                         "idle_expiry_s": self.settings.session_ttl_s},
            "limits": {"go_to_max_steps": self.settings.max_steps, "step_max_actions": self.settings.max_actions,
                       "imagine_max_blocks": self.settings.max_imagine_blocks},
        }  # fmt: skip
        names = ", ".join(f"{n} ({', '.join(f)})" for n, (_, f) in self.entities.items())
        facts = {"summary": f"{self.env_name} world model (step {meta.step}, {meta.resolution} px frames); entities: "
                            f"{names}; {len(goals)} goals remembered{': ' + ', '.join(goals) if goals else ''}.",
                 **facts}  # fmt: skip
        return Answer(facts)

    def start(self, seed: int | None = None, state: list[float] | None = None) -> Answer:
        if self.sessions.full():
            raise JepaworldError(f"{self.settings.max_sessions} sessions are open, the most this server keeps; "
                                 f"close one (close) or wait: idle ones expire after "
                                 f"{self.settings.session_ttl_s:g} s")  # fmt: skip
        if state is not None and len(state) != self.state_dim:
            raise JepaworldError(f"state: {len(state)} numbers; {self.env_name} states have {self.state_dim} "
                                 f"({self._fields()})")  # fmt: skip
        env = make(self.env_name, resolution=self.model.meta.resolution)
        try:
            env.reset(seed=seed)
            if state is not None:
                goal_provider(env).set_state(np.asarray(state, np.float32))
            obs = np.asarray(env.render(), np.uint8)
        except Exception:
            env.close()
            raise
        fs_a = self.model.meta.frameskip * self.model.meta.action_dim
        s = Live(id=self.sessions.new_id(), env=env, obs=obs, meter=SurpriseMeter(self.model),
                 history=LatentHistory(self.model.meta.history, fs_a), seed=0 if seed is None else seed)  # fmt: skip
        s.restart_latents(self.model)
        self.sessions.add(s)
        facts = self._frame_facts(s)
        how = "at the given state" if state is not None else "a random start"
        how += f", seed {seed}" if seed is not None else ""
        return Answer({"summary": f"session {s.id} started ({how}); true state {_short(facts['state'])}.", **facts},
                      [view(obs)])  # fmt: skip

    def observe(self, session: str) -> Answer:
        s = self._session(session)
        facts = self._frame_facts(s)
        near = facts["nearest_remembered"]
        where = f"; nearest remembered state: episode {near['episode']} step {near['step']}" if near else ""
        return Answer({"summary": f"step {s.steps}: true state {_short(facts['state'])}; the probe reads "
                                  f"{_short(facts['entities'])}{where}.", **facts}, [view(s.obs)])  # fmt: skip

    def remember_goal(self, name: str, session: str | None = None, image: str | None = None,
                      replace: bool = False) -> Answer:  # fmt: skip
        if (session is None) == (image is None):
            raise JepaworldError("give exactly one of session (remember its frame now, with its true state) or "
                                 "image (base64 PNG of the goal)")  # fmt: skip
        if not replace and name in self.store.goal_names():
            raise JepaworldError(f"a goal named {name!r} is already remembered; pass replace=true to overwrite it, or "
                                 "choose another name")  # fmt: skip
        state = None
        if session is not None:
            s = self._session(session)
            pixels, state = s.obs, np.asarray(goal_provider(s.env).get_state(), np.float32)
            source = f"session {s.id} step {s.steps}"
        else:
            assert image is not None  # exactly one of session and image (checked above)
            pixels, source = decode_png(image, self.model.meta.resolution), "image"
        goal = add_goal(self.store, self.model, name, pixels, state=state, source=source, replace=replace)
        facts = self._goal_facts(goal)
        return Answer({"summary": f"remembered goal {name!r} from {source}.", **facts}, [view(goal.image)])

    def list_goals(self) -> Answer:
        goals = [self._goal_facts(self._goal(n)) for n in self.store.goal_names()]
        names = ", ".join(g["name"] for g in goals) or "none"
        return Answer({"summary": f"{len(goals)} goals remembered: {names}.", "goals": goals})

    def forget_goal(self, name: str) -> Answer:
        self._goal(name)  # unknown: an error naming the known goals
        with self.store.transaction():
            self.store.conn.execute("DELETE FROM goals WHERE name = ?", (name,))
        return Answer({"summary": f"forgot goal {name!r}.", "forgotten": name, "goals": self.store.goal_names()})

    def imagine(self, session: str, actions: list[list[float]]) -> Answer:
        s = self._session(session)
        meta = self.model.meta
        fs, most = meta.frameskip, self.settings.max_imagine_blocks
        raw = check_actions(actions, self.spec.action_low, self.spec.action_high, fs * most)
        if len(raw) % fs:
            raise JepaworldError(f"actions: {len(raw)} actions; the model predicts whole blocks of {fs}: give a "
                                 f"multiple of {fs} (at most {fs * most})")  # fmt: skip
        if s.pending:
            raise JepaworldError(f"the session is {len(s.pending)} actions into a block of {fs}; the model imagines "
                                 f"from a block's end: step {fs - len(s.pending)} more actions first")  # fmt: skip
        K = len(raw) // fs
        device = s.history.z.device
        blocks = torch.as_tensor(meta.normalizer.normalize_action(raw).reshape(1, K, fs * meta.action_dim),
                                 dtype=torch.float32, device=device)  # fmt: skip
        with torch.inference_mode():
            z = self.model.rollout(s.history.z_hist, blocks, s.history.hist_blocks)[0]  # (K, D)
        s.imagined = Imagined(actions=raw, z=z)
        preds = [{"block": k + 1, "after_steps": (k + 1) * fs, "entities": self._read(z[k])} for k in range(K)]
        note = "step these actions next and step reports how far reality departs from this imagination"
        last = preds[-1]["entities"]
        return Answer({"summary": f"imagined {K} blocks ({len(raw)} actions); after them the probe reads "
                                  f"{_short(last)}.", "session": s.id, "predictions": preds, "note": note})  # fmt: skip

    def step(self, session: str, actions: list[list[float]]) -> Answer:
        s = self._session(session)
        raw = check_actions(actions, self.spec.action_low, self.spec.action_high, self.settings.max_actions)
        surprises: list[dict[str, Any]] = []
        departures: list[dict[str, Any]] = []
        for a in raw:
            obs, *_ = s.env.step(a)
            s.obs, s.steps = np.asarray(obs, np.uint8), s.steps + 1
            s.pending.append(a)
            if len(s.pending) == self.model.meta.frameskip:
                surprises.append({"step": s.steps, **self._block_done(s, departures)})
        facts = self._frame_facts(s)
        facts.update(executed=len(raw), surprise=surprises, pending_actions=len(s.pending))
        if departures:
            facts["imagination"] = departures
        high = [x for x in surprises if x.get("surprising")]
        said = f"; {len(high)} surprising blocks" if high else ""
        return Answer({"summary": f"executed {len(raw)} actions (step {s.steps}); true state "
                                  f"{_short(facts['state'])}{said}.", **facts}, [view(s.obs)])  # fmt: skip

    def _block_done(self, s: Live, departures: list[dict[str, Any]]) -> dict[str, Any]:
        """A whole block was executed: measure the new frame's surprise, advance the latent history, compare
        with the imagination when the block is the one imagined next."""
        meta = self.model.meta
        block = np.stack(s.pending)
        s.pending = []
        value = float(s.meter.update(s.obs, block))
        z = s.meter.embedding
        assert z is not None  # update() just set it
        executed = torch.as_tensor(meta.normalizer.normalize_action(block).reshape(1, -1), dtype=torch.float32,
                                   device=z.device)  # fmt: skip
        s.history.push(z, executed)
        out: dict[str, Any] = {"surprise": value}
        if self.guard is not None:
            out["surprising"] = value > self.guard.threshold
        im = s.imagined
        if im is not None:
            fs, k = meta.frameskip, im.compared
            if np.allclose(im.actions[k * fs : (k + 1) * fs], block):
                err = float((im.z[k] - z[0]).square().sum())
                departures.append({"block": k + 1, "latent_error": err, "imagined": self._read(im.z[k]),
                                   "seen": self._read(z[0])})  # fmt: skip
                im.compared += 1
                if im.compared == len(im.z):
                    s.imagined = None
            else:
                departures.append({"block": k + 1, "note": "the actions differ from the imagined ones; the "
                                                           "imagination is dropped"})  # fmt: skip
                s.imagined = None
        return out

    def go_to(self, session: str, goal: str, max_steps: int = 100, agent: str | None = None) -> Answer:
        s = self._session(session)
        limit = self.settings.max_steps
        if not 1 <= max_steps <= limit:
            raise JepaworldError(f"max_steps: {max_steps}; give 1 to {limit} env steps")
        mode = agent or ("guarded" if self.policy is not None else "planner")
        if mode not in AGENTS:
            raise JepaworldError(f"agent: {mode!r}; choose one of {', '.join(AGENTS)}")
        if mode == "guarded" and self.policy is None:
            raise JepaworldError(f"agent 'guarded' needs a distilled policy ({self.agent_note}); use agent='planner'")
        target = self._goal(goal)
        judge, judged_by = self._judge(s, target)
        routed = mode == "planner" and self.settings.memory is not None and self.index is not None
        controller = self._navigator() if routed else self._agent(s, mode)
        t0 = time.perf_counter()
        run = pursue(s.env, s.obs, controller, target.image, self.model.meta.frameskip, max_steps, judge,
                     None if self.guard is None else self.guard.threshold)
        seconds = time.perf_counter() - t0
        s.obs, s.steps = run.frames[-1], s.steps + run.steps
        s.restart_latents(self.model)
        facts: dict[str, Any]
        facts = {"session": s.id, "goal": goal, "agent": mode, "routed_through_memory": routed,
                 "reached": run.reached, "judged_by": judged_by, "steps": run.steps, "plans": run.plans,
                 "surprises": run.surprises if self.guard is not None else None,
                 "replans_on_surprise": run.replans_on_surprise, "seconds": seconds,
                 "ms_per_step": 1000 * seconds / max(run.steps, 1)}  # fmt: skip
        if target.state is not None:
            facts["distance_to_goal"] = goal_distance(s.env, goal_provider(s.env).get_state(), target.state)
        facts.update(self._frame_facts(s))
        verdict = {True: "reached", False: "did not reach", None: "cannot judge whether it reached"}[run.reached]
        facts = {"summary": f"{verdict} {goal!r} in {run.steps} steps ({mode}; plans made: {run.plans}, on "
                            f"surprise: {run.replans_on_surprise}); true state {_short(facts['state'])}.",
                 **facts}  # fmt: skip
        return Answer(facts, [film_strip(run.frames, target.image), view(s.obs)])

    def _judge(self, s: Live, target: Any) -> tuple[Any, str]:
        """The success test of ``go_to``: the env's own, on the goal's true state, or on the probe's reading."""
        test = goal_provider(s.env).is_success
        if target.state is not None:
            return (lambda state: bool(test(state, target.state))), "the env's success test on the goal's true state"
        if self.decoder is not None:
            guess = self.decoder.decode(target.z.reshape(1, -1))[0]
            return (lambda state: bool(test(state, guess))), "the env's success test on the probe's reading of the goal"
        return None, "nothing: the goal has no true state and there is no probe; see the final frame"

    def _agent(self, s: Live, mode: str) -> Any:
        if mode not in s.agents:
            from jepaworld.agent import Agent

            s.agents[mode] = Agent(self.model, mode, plan=self.model.config.plan, seed=s.seed,
                                   policy=self.policy, guard=self.guard)  # fmt: skip
        return s.agents[mode]

    def _navigator(self) -> Any:
        if self.navigator is None:
            from jepaworld.memory import Navigator

            self.navigator = Navigator(self.model, self.store, plan=self.model.config.plan)
        return self.navigator

    def close_session(self, session: str) -> Answer:
        s = self._session(session)
        self.sessions.remove(s.id)
        return Answer({"summary": f"closed session {s.id} after {s.steps} steps.", "closed": s.id, "steps": s.steps})

    def _goal(self, name: str) -> Any:
        known = self.store.goal_names()
        if name not in known:
            raise JepaworldError(f"no goal named {name!r} (known: {', '.join(known) or 'none yet'}); remember it "
                                 "with remember_goal")  # fmt: skip
        return self.store.goal(name)

    def _goal_facts(self, goal: Any) -> dict[str, Any]:
        return {"name": goal.name, "source": goal.source,
                "state": None if goal.state is None else entity_values(self.entities, goal.state),
                "entities": self._read(goal.z)}  # fmt: skip

    def _fields(self) -> str:
        return ", ".join(f"{n}.{f}" for n, (_, fields) in self.entities.items() for f in fields)


def _short(values: dict[str, dict[str, float]] | None) -> str:
    if values is None:
        return "nothing (no probe)"
    return "; ".join(f"{n} " + ", ".join(f"{k}={v:.1f}" for k, v in fs.items()) for n, fs in values.items())
