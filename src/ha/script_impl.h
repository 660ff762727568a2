/* SPDX-License-Identifier: MIT */
/* The script engine's insides, shared by its three files: the compiled
 * form of actions (script_compile.c), runs with their tasks, scopes and
 * waits (script_run.c), and what each action does (script_actions.c). */
#ifndef MQB_HA_SCRIPT_IMPL_H
#define MQB_HA_SCRIPT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "ha/duration.h"
#include "ha/tval.h"
#include "mqbridge/condition.h"
#include "mqbridge/script.h"

struct mqb_triggers;

/* ---- the compiled form ------------------------------------------------------------ */

/* Home Assistant's action types; the names are its own (the log says
 * "Error for call_service"). */
enum act_type {
	A_CALL,
	A_DELAY,
	A_WAIT_TEMPLATE,
	A_WAIT_TRIGGER,
	A_EVENT,
	A_CONDITION,
	A_CHOOSE,
	A_IF,
	A_REPEAT,
	A_PARALLEL,
	A_SEQUENCE,
	A_VARIABLES,
	A_STOP,
	A_CONVERSATION, /* set_conversation_response: accepted, nothing to say it to */
	A_ABSENT,       /* another integration's device action: fails when it runs */
};
extern const char *const script__type_names[];

struct action;

struct seq {
	size_t n;
	struct action **v;
};

/* A list of conditions, each tested on its own (so an error names its
 * index, "Error in 'choose[1]' evaluation"). */
struct conds {
	size_t n;
	struct mqb_condition **v;
};

struct choice {
	char *alias;
	struct conds conds;
	struct seq seq;
};

enum repeat_kind { R_COUNT, R_FOR_EACH, R_WHILE, R_UNTIL };

/* A variables block: names and values, rendered in order. */
struct varblock {
	size_t n;
	char **names;
	struct tval *values;
};

struct action {
	enum act_type type;
	char *alias;
	char *path;               /* "action[2].choose[0].sequence[1]", for the log */
	bool disabled;            /* enabled: false */
	bool continue_on_error;
	union {
		char *absent;                      /* A_ABSENT: why it cannot run */
		struct {
			char *domain, *service;    /* a fixed name */
			struct mqb_template *name; /* or a template */
			struct tval target, data, data_template;
			bool has_target, has_data, has_data_template;
			char **entity_ids;         /* the legacy top-level entity_id */
			size_t n_entity_ids;
			char *response_variable;
		} call;
		struct duration delay;
		struct {
			struct mqb_template *tpl;       /* wait_template */
			char *text;                     /* its text, for the tracker */
			struct mqb_triggers *triggers;  /* wait_for_trigger */
			struct duration timeout;
			bool has_timeout, continue_on_timeout;
		} wait;
		struct {
			char *type;
			struct tval data, data_template;
			bool has_data, has_data_template;
		} event;
		struct mqb_condition *cond;
		struct {
			size_t n;
			struct choice *v;
			struct seq deflt;
			bool has_default;
		} choose;
		struct {
			struct conds conds;
			struct seq then, otherwise;
			bool has_else;
		} ifelse;
		struct {
			enum repeat_kind kind;
			struct tval items;    /* count or for_each */
			struct conds conds;   /* while or until */
			struct seq seq;
		} repeat;
		struct {
			size_t n;
			struct seq *branches;
		} parallel;
		struct seq sequence;
		struct varblock variables;
		struct {
			char *reason;
			bool error;
			char *response_variable;
		} stop;
	};
};

struct mqb_script_variables {
	struct varblock vb;
};

void script__free_seq(struct seq *q);
/* wait_for_trigger's list (script_wait.c): the triggers' compile. */
size_t script__compile_triggers(const struct mqb_conf_node *node, const char *path,
				struct mqb_conf_errors *errs, struct mqb_triggers **out);
void script__free_triggers(struct mqb_triggers *t);
void script__free_varblock(struct varblock *vb);
size_t script__compile_varblock(struct varblock *vb, const struct mqb_conf_node *node,
				const char *path, struct mqb_conf_errors *errs);

/* ---- runs ----------------------------------------------------------------------- */

/* How a step ended, and so what the sequence around it does. */
enum flow {
	F_NEXT,      /* go on */
	F_COND_FAIL, /* a false condition: this (sub)sequence ends, its parent goes on */
	F_STOP,      /* stop: the run ends, finished */
	F_ABORT,     /* the run ends, aborted (already logged) */
	F_ERROR,     /* the run ends with task->err, unless continue_on_error allows */
	F_CANCEL,    /* stopped from outside: unwind at once */
};

struct run;
struct frame;

/* A scope of variables (Home Assistant's ScriptRunVariables): the run's
 * top one, one per nested block, one per parallel branch. Lives on the
 * stack of the task that entered it. */
struct frame {
	struct frame *parent;
	json_t *vars;             /* NULL until something is defined here */
	bool branch;              /* a parallel branch's own: `wait` stays in it */
	json_t *view;             /* every visible name, for templates (cached) */
	unsigned long view_gen;
};

/* One coroutine of a run: the run's own, or a parallel branch's. */
struct task {
	struct run *run;
	struct task *prev, *next;   /* the run's tasks, for stopping them */
	struct frame *scope;        /* the innermost frame */
	struct mqb_future *wake;    /* what the task waits on now, cancelled by a stop */
	int err;                    /* F_ERROR: the error, and whether */
	bool continuable;           /* continue_on_error may go past it */
};

struct run {
	struct mqb_script *s;
	struct mqb_core *core;
	unsigned refs;              /* the script's list, and each task */
	struct run *prev, *next;    /* the script's runs, oldest first */
	struct frame top;
	struct mqb_future *done;    /* settled when the run ends */
	struct mqb_future *turn;    /* restart: pending while older runs unwind */
	json_t *response;           /* what stop answered */
	struct task *tasks;
	/* The scripts whose runs wait, through service calls, for this one
	 * (outermost first): Home Assistant's script stack. NULL: none. */
	const struct mqb_script **path;
	unsigned npath;
	unsigned long gen;          /* bumped by every assignment: views go stale */
	bool spawned;               /* its coroutine exists (a queued run waits without) */
	bool stopping;
	bool ended;
};

struct mqb_script {
	struct mqb_core *core;      /* the one its runs run on (set by the first) */
	char *name;
	const char *label;          /* "action", "sequence": the root of action paths */
	enum mqb_script_mode mode;
	unsigned max;
	enum mqb_log_level max_exceeded;
	bool max_exceeded_silent;
	void (*on_change)(void *ud, struct mqb_script *s);
	void *ud;
	const struct mqb_script_variables *variables;
	bool respond_variables;
	struct seq seq;
	struct run *runs, *runs_tail;
	unsigned nruns;
	struct mqb_future **stops;  /* mqb_script_async_stop's, settled at nruns 0 */
	size_t nstops;
};

/* script_run.c, for the actions */

/* Every visible variable of t, as one object for templates (borrowed). */
const json_t *script__view(struct task *t);
/* Home Assistant's assignment: the nearest frame holding name, else the
 * top one; `wait` (protect) stops at a parallel branch. Takes value. */
int script__assign(struct task *t, const char *name, json_t *value, bool protect);
/* Define name in frame f itself (the `repeat` variable). Takes value. */
int script__define(struct task *t, struct frame *f, const char *name, json_t *value);
/* A visible variable, or NULL. */
const json_t *script__lookup(struct task *t, const char *name);
/* Enter a new frame (on the caller's stack) / leave it. */
void script__enter(struct task *t, struct frame *f, bool branch);
void script__leave(struct task *t, struct frame *f);
/* Template variables for t now. */
struct mqb_tpl_vars script__tpl_vars(struct task *t);

/* Wait for wake (a future the caller made) to be settled, as the task's
 * pending wait: 0 or wake's status; -ECANCELED when the run is stopped
 * (wake is then cancelled) or the core shuts down. */
int script__wait(struct task *t, struct mqb_future *wake);
/* Run a sequence in a new frame (a block: a false condition ends only it). */
enum flow script__block(struct task *t, const struct seq *q);
/* Run a sequence in the current frame. */
enum flow script__seq(struct task *t, const struct seq *q);
/* Set t's error; logged once here with the action's path. */
enum flow script__fail(struct task *t, const struct action *a, int err, bool continuable,
		       const char *desc, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Log "<name>: <path>: <text>" at level. */
void script__log(const struct task *t, enum mqb_log_level level, const struct action *a,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A service call a run waits for, known by the call's data (which the
 * call keeps while it exists), so that a run started for the call finds
 * the run that made it (mqb_script_async_run_call). Lives on the calling
 * task's stack from before the call until the wait ends. */
struct pending_call {
	const json_t *data;
	struct run *run;
	struct pending_call *next;
};
void script__call_begin(struct pending_call *pc, struct run *r, const json_t *data);
void script__call_end(struct pending_call *pc);

/* script_actions.c: one step. */
enum flow script__exec(struct task *t, const struct action *a);
/* script_run.c: a parallel step, each branch a task of its own. */
enum flow script__parallel(struct task *t, const struct action *a);
/* script_wait.c: wait_template and wait_for_trigger. */
enum flow script__wait_action(struct task *t, const struct action *a);

#endif
