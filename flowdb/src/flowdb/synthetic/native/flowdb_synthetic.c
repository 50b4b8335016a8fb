/*
 * FlowDB's native event generator: the SQL generator's rows (sql_generator.py), made in C and written
 * straight into a fresh table, the way COPY writes them (constraints checked, then batches through
 * table_multi_insert).
 *
 *     SELECT <scratch>.fill(target, cdr_type, first, count, params, homes, cells, tacs)
 *
 * writes rows [first, first + count) of one day of one CDR type into `target` and returns the distinct
 * location ids of those rows (for events.location_ids, which would otherwise be read back). For calls
 * and sms, row r is side r & 1 (0: outgoing) of event r >> 1 (FlowKit's two-row format); for mds and topups,
 * row e is event e. `params` holds the seeds and sizes in the order of enum SyntheticParam
 * (sql_generator.NATIVE_PARAMS names the same order); `homes` each subscriber's home cell range packed as
 * lo << 32 | cnt; `cells` the day's available cells by position, as numbers; `tacs` the handset models.
 *
 * Every random draw hashes (counter, stream seed) with hashint8extended's algorithm and every value is the
 * one the SQL expressions compute, so both paths give the same rows (tested row for row).
 *
 * Each row's NOT NULL and CHECK constraints are checked by PostgreSQL's ExecConstraints, as COPY checks them.
 * Everything else the executor would do for an INSERT is refused rather than done: the target may have no
 * default, generated column, index, trigger, rule or row security, and must not be a partition (the caller
 * builds indexes after the load, which is faster anyway). The caller needs INSERT on the target.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

enum SyntheticParam
{
	P_N_PAIRS,
	P_N_SUBS,
	P_P_OUT,
	P_S_MSISDN,
	P_S_IMSI,
	P_S_IMEI,
	P_S_TAC,
	P_PAIR_A,
	P_PAIR_B,
	P_EPOCH,
	P_ID_BASE,
	P_S1,
	P_S2,
	P_S3,
	P_S4,
	P_S6,
	P_S7,
	P_V1_RANGE,
	P_V2_RANGE,
	P_V3_RANGE,
	N_PARAMS
};

/* The fields a CDR type's rows can have, with their column names and types. */
enum SyntheticField
{
	F_ID,
	F_OUTGOING,
	F_DATETIME,
	F_DURATION,
	F_MSISDN,
	F_COUNTERPART,
	F_LOCATION,
	F_IMSI,
	F_IMEI,
	F_TAC,
	F_VOLUME_TOTAL,
	F_VOLUME_UPLOAD,
	F_VOLUME_DOWNLOAD,
	F_TYPE,
	F_RECHARGE,
	F_AIRTIME_FEE,
	F_TAX_AND_FEE,
	F_PRE_BALANCE,
	F_POST_BALANCE,
	N_FIELDS
};

static const struct
{
	const char *name;
	Oid			type;
}			fields[N_FIELDS] = {
	[F_ID] = {"id", TEXTOID},
	[F_OUTGOING] = {"outgoing", BOOLOID},
	[F_DATETIME] = {"datetime", TIMESTAMPTZOID},
	[F_DURATION] = {"duration", NUMERICOID},
	[F_MSISDN] = {"msisdn", TEXTOID},
	[F_COUNTERPART] = {"msisdn_counterpart", TEXTOID},
	[F_LOCATION] = {"location_id", TEXTOID},
	[F_IMSI] = {"imsi", TEXTOID},
	[F_IMEI] = {"imei", TEXTOID},
	[F_TAC] = {"tac", NUMERICOID},
	[F_VOLUME_TOTAL] = {"volume_total", NUMERICOID},
	[F_VOLUME_UPLOAD] = {"volume_upload", NUMERICOID},
	[F_VOLUME_DOWNLOAD] = {"volume_download", NUMERICOID},
	[F_TYPE] = {"type", TEXTOID},
	[F_RECHARGE] = {"recharge_amount", NUMERICOID},
	[F_AIRTIME_FEE] = {"airtime_fee", NUMERICOID},
	[F_TAX_AND_FEE] = {"tax_and_fee", NUMERICOID},
	[F_PRE_BALANCE] = {"pre_event_balance", NUMERICOID},
	[F_POST_BALANCE] = {"post_event_balance", NUMERICOID},
};

typedef enum CdrType
{
	CALLS,
	SMS,
	MDS,
	TOPUPS
}			CdrType;

#define COMMON_FIELDS F_ID, F_DATETIME, F_MSISDN, F_LOCATION, F_IMSI, F_IMEI, F_TAC
static const int calls_fields[] = {COMMON_FIELDS, F_OUTGOING, F_DURATION, F_COUNTERPART, -1};
static const int sms_fields[] = {COMMON_FIELDS, F_OUTGOING, F_COUNTERPART, -1};
static const int mds_fields[] = {COMMON_FIELDS, F_DURATION, F_VOLUME_TOTAL, F_VOLUME_UPLOAD,
F_VOLUME_DOWNLOAD, -1};
static const int topups_fields[] = {COMMON_FIELDS, F_TYPE, F_RECHARGE, F_AIRTIME_FEE, F_TAX_AND_FEE,
F_PRE_BALANCE, F_POST_BALANCE, -1};
static const int *const type_fields[] = {calls_fields, sms_fields, mds_fields, topups_fields};
static const char *const type_names[] = {"calls", "sms", "mds", "topups"};

/* Top-up amounts, as the SQL generator's ARRAY[50, 100, 200, 500, 1000, 2000]. */
static const int64 amounts[] = {50, 100, 200, 500, 1000, 2000};

#define N_AMOUNTS lengthof(amounts)
#define MAX_CALL_DURATION 2600
#define BATCH_ROWS 1000
#define LOW_48 INT64CONST(0xFFFFFFFFFFFF)
#define LOW_40 INT64CONST(0xFFFFFFFFFF)
#define LOW_32 INT64CONST(0xFFFFFFFF)
#define LOW_24 INT64CONST(0xFFFFFF)
#define LOW_60 INT64CONST(0x0FFFFFFFFFFFFFFF)
#define BIT_56 (INT64CONST(1) << 56)
#define TOP_BIT ((int64) (UINT64CONST(1) << 63))
#define SECONDS_PER_DAY 86400
/* Seconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define PG_EPOCH_SECONDS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* hashint8extended(k, seed), as PostgreSQL computes it. */
static inline int64
hash8(int64 k, int64 seed)
{
	uint32		lohalf = (uint32) k;
	uint32		hihalf = (uint32) (k >> 32);

	lohalf ^= (k >= 0) ? hihalf : ~hihalf;
	return (int64) hash_bytes_uint32_extended(lohalf, (uint64) seed);
}

/* ri(k, s, n) of the SQL generator: uniform on [0, n) for n far below 2^48. */
static inline int64
draw(int64 k, int64 seed, int64 n)
{
	return (hash8(k, seed) & LOW_48) % n;
}

/* Two hex digits per byte value. */
static char hex_pairs[256][2];

/* to_hex(v) as text, for v < 16^digits whose hex has exactly `digits` digits (or fewer: zero-padded). */
static Datum
hex_text(uint64 v, int digits)
{
	text	   *t = palloc(VARHDRSZ + 16);
	char	   *out = VARDATA(t) + digits;

	for (int i = 0; i < digits / 2; i++, v >>= 8)
	{
		out -= 2;
		memcpy(out, hex_pairs[v & 255], 2);
	}
	if (digits & 1)
		*--out = hex_pairs[v & 15][1];
	SET_VARSIZE(t, VARHDRSZ + digits);
	return PointerGetDatum(t);
}

/* A numeric datum from its text, as numeric_in reads it. */
static Datum
numeric_from(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/* Elements of a one-dimensional array without NULLs, checked. */
static void *
array_items(ArrayType *a, Oid type, const char *name, int *n)
{
	if (ARR_ELEMTYPE(a) != type || ARR_NDIM(a) > 1 || ARR_HASNULL(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional %s array without NULLs", name,
						format_type_be(type))));
	*n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
	return ARR_DATA_PTR(a);
}

/* Refuse a target needing more of the executor than constraint checks: these rows do not pass through it. */
static void
check_target(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	const char *name = RelationGetRelationName(rel);
	AclResult	acl = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, get_relkind_objtype(rel->rd_rel->relkind), name);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" must be a plain table that is not a partition", name)));
	if ((constr != NULL && (constr->num_defval > 0 || constr->has_generated_stored || constr->missing))
		|| rel->rd_rel->relhasindex || rel->rd_rel->relhastriggers || rel->rd_rel->relhasrules
		|| rel->rd_rel->relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("\"%s\" must have no defaults, generated columns, indexes, triggers, rules or row "
						"security: add indexes after the load", name)));
}

/*
 * For each column of the target, the field it takes (-1: NULL). Every field of the type must have a column
 * of its type; numeric columns take no typmod, but tac may be numeric(p, 0) if every model fits p digits.
 */
static int *
map_columns(TupleDesc desc, const int *wanted, const int32 *tacs, int n_tacs, const char *relname)
{
	int		   *map = palloc(sizeof(int) * desc->natts);

	for (int a = 0; a < desc->natts; a++)
		map[a] = -1;
	for (const int *f = wanted; *f >= 0; f++)
	{
		int			found = -1;

		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), fields[*f].name) == 0)
				found = a;
		}
		if (found < 0 || TupleDescAttr(desc, found)->atttypid != fields[*f].type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("\"%s\" needs a column %s of type %s", relname, fields[*f].name,
							format_type_be(fields[*f].type))));
		if (TupleDescAttr(desc, found)->atttypmod >= 0)
		{
			int32		typmod = TupleDescAttr(desc, found)->atttypmod - VARHDRSZ;
			int			precision = (typmod >> 16) & 0xFFFF;
			int64		limit = 1;

			for (int i = 0; i < precision && limit < PG_INT64_MAX / 10; i++)
				limit *= 10;
			if (*f != F_TAC || (typmod & 0xFFFF) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column %s of \"%s\" must be unconstrained %s", fields[*f].name, relname,
								format_type_be(fields[*f].type))));
			for (int i = 0; i < n_tacs; i++)
				if (tacs[i] >= limit || tacs[i] <= -limit)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("tac %d does not fit column tac of \"%s\"", tacs[i], relname)));
		}
		map[found] = *f;
	}
	return map;
}

PG_FUNCTION_INFO_V1(flowdb_synthetic_fill);

Datum
flowdb_synthetic_fill(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *type_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		first = PG_GETARG_INT64(2);
	int64		count = PG_GETARG_INT64(3);
	int			n_params,
				n_homes,
				n_cells,
				n_tacs;
	const int64 *p = array_items(PG_GETARG_ARRAYTYPE_P(4), INT8OID, "params", &n_params);
	const int64 *homes = array_items(PG_GETARG_ARRAYTYPE_P(5), INT8OID, "homes", &n_homes);
	const int64 *cells = array_items(PG_GETARG_ARRAYTYPE_P(6), INT8OID, "cells", &n_cells);
	const int32 *tacs = array_items(PG_GETARG_ARRAYTYPE_P(7), INT4OID, "tacs", &n_tacs);
	CdrType		type = CALLS;
	bool		paired;
	Relation	rel;
	TupleDesc	desc;
	int		   *map;
	Datum	   *tac_numeric,
			   *duration_numeric;
	Datum		recharge[N_AMOUNTS],
				tax_and_fee[N_AMOUNTS],
				zero;
	Datum		fv[N_FIELDS];
	TupleTableSlot *slots[BATCH_ROWS];
	MemoryContext batch_context,
				old_context;
	BulkInsertState bistate;
	EState	   *estate;
	ResultRelInfo *result_rel;
	bool		constrained;
	CommandId	cid;
	int			options = 0;
	int			n_batch = 0;
	bool	   *used;
	Datum	   *used_ids;
	int			n_used = 0;

	for (int t = 0; t < lengthof(type_names); t++)
		if (strcmp(type_name, type_names[t]) == 0)
			type = (CdrType) t;
	if (strcmp(type_name, type_names[type]) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown CDR type \"%s\": expected calls, sms, mds or topups", type_name)));
	paired = type == CALLS || type == SMS;
	if (n_params != N_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must hold %d values, not %d", N_PARAMS, n_params)));
	if (first < 0 || count < 0 || first > LOW_40 - count)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rows out of range")));
	if (n_cells < 1 || n_tacs < 1 || p[P_N_PAIRS] < 1 || p[P_N_SUBS] < (paired ? 2 : 1)
		|| n_homes != p[P_N_SUBS] || p[P_V1_RANGE] < 1 || p[P_V2_RANGE] < 1 || p[P_V3_RANGE] < 1
		|| (type == TOPUPS && p[P_V1_RANGE] > (int64) N_AMOUNTS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent sizes: %d cells, %d tacs, %d homes for " INT64_FORMAT " subscribers",
						n_cells, n_tacs, n_homes, p[P_N_SUBS])));
	for (int i = 0; i < n_homes; i++)
	{
		int64		lo = homes[i] >> 32,
					cnt = homes[i] & LOW_32;

		if (lo < 0 || lo + cnt > n_cells)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("home range of subscriber %d lies outside the %d cells", i, n_cells)));
	}
	for (int c = 0; c < n_cells; c++)
		if (cells[c] < 0 || cells[c] > LOW_32)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cell numbers must lie in [0, 2^32)")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot write synthetic events in a read-only transaction")));
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot write synthetic events in a parallel operation")));

	rel = table_open(relid, RowExclusiveLock);
	check_target(rel);
	desc = RelationGetDescr(rel);
	map = map_columns(desc, type_fields[type], tacs, n_tacs, RelationGetRelationName(rel));

	for (int i = 0; i < 256; i++)
	{
		hex_pairs[i][0] = "0123456789abcdef"[i >> 4];
		hex_pairs[i][1] = "0123456789abcdef"[i & 15];
	}
	/* Numerics that repeat are made once: models, call durations, top-up amounts. */
	tac_numeric = palloc0(sizeof(Datum) * n_tacs);
	duration_numeric = palloc0(sizeof(Datum) * (MAX_CALL_DURATION + 1));
	for (int a = 0; a < N_AMOUNTS; a++)
	{
		char		buf[32];

		/* amount * 0.1 has one decimal, as in SQL; every amount is a multiple of 10. */
		recharge[a] = NumericGetDatum(int64_to_numeric(amounts[a]));
		snprintf(buf, sizeof(buf), INT64_FORMAT ".0", amounts[a] / 10);
		tax_and_fee[a] = numeric_from(buf);
	}
	zero = NumericGetDatum(int64_to_numeric(0));
	used = palloc0(sizeof(bool) * n_cells);

	/* As COPY loads: batches of rows, a bulk-insert buffer, no free-space map for a table of this transaction. */
	if (rel->rd_createSubid != InvalidSubTransactionId
		|| rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId)
		options |= TABLE_INSERT_SKIP_FSM;
	/*
	 * A table created (or given a new file) in this very subtransaction gets its rows frozen and its pages marked
	 * all-visible, as COPY FREEZE and REFRESH MATERIALIZED VIEW write theirs: no other transaction sees the
	 * table before this one commits, and an abort takes the file with it. No VACUUM (nor, years later, an
	 * anti-wraparound freeze) has to rewrite these pages, and no reader has to set their hint bits. Like
	 * REFRESH, and unlike COPY FREEZE, this does not refuse when the transaction holds snapshots: a query of
	 * this same transaction that already had the table open would see these rows, and the loader runs none.
	 */
	if (rel->rd_createSubid == GetCurrentSubTransactionId()
		|| rel->rd_newRelfilenodeSubid == GetCurrentSubTransactionId())
		options |= TABLE_INSERT_FROZEN;
	cid = GetCurrentCommandId(true);
	bistate = GetBulkInsertState();
	/* What ExecConstraints needs to check a row: an executor state and the target as a result relation. */
	estate = CreateExecutorState();
	result_rel = makeNode(ResultRelInfo);
	InitResultRelInfo(result_rel, rel, 0, NULL, 0);
	constrained = desc->constr != NULL;
	for (int s = 0; s < BATCH_ROWS; s++)
		slots[s] = table_slot_create(rel, NULL);
	batch_context = AllocSetContextCreate(CurrentMemoryContext, "synthetic batch", ALLOCSET_DEFAULT_SIZES);
	old_context = MemoryContextSwitchTo(batch_context);

	for (int64 i = first; i < first + count; i++)
	{
		TupleTableSlot *slot = slots[n_batch];
		int64		e,
					x,
					t,
					h_loc,
					home,
					lo,
					cnt,
					far,
					pos,
					tac;

		if (paired)
		{
			int			side = (int) (i & 1);
			int64		pair,
						caller,
						callee,
						h_t,
						y;

			e = i >> 1;
			pair = draw(e, p[P_S3], p[P_N_PAIRS]);
			caller = draw(pair, p[P_PAIR_A], p[P_N_SUBS]);
			callee = (caller + 1 + draw(pair, p[P_PAIR_B], p[P_N_SUBS] - 1)) % p[P_N_SUBS];
			x = side == 0 ? caller : callee;
			/* homes[] is large and read at random: start the load now, it is needed last. */
			__builtin_prefetch(&homes[x]);
			y = side == 0 ? callee : caller;
			h_t = hash8(e, p[P_S1]);
			h_loc = hash8(e, side == 0 ? p[P_S4] : p[P_S6]);
			t = (h_t & LOW_40) % SECONDS_PER_DAY;
			fv[F_OUTGOING] = BoolGetDatum(side == 0);
			fv[F_COUNTERPART] = hex_text(hash8(y, p[P_S_MSISDN]) | TOP_BIT, 16);
			if (type == CALLS)
			{
				int			duration = ((int32) ((h_t >> 40) & LOW_24)) % (MAX_CALL_DURATION + 1);

				if (duration_numeric[duration] == (Datum) 0)
				{
					MemoryContextSwitchTo(old_context);
					duration_numeric[duration] = NumericGetDatum(int64_to_numeric(duration));
					MemoryContextSwitchTo(batch_context);
				}
				fv[F_DURATION] = duration_numeric[duration];
			}
		}
		else
		{
			int64		v1,
						v2,
						v3;

			e = i;
			x = draw(e, p[P_S3], p[P_N_SUBS]);
			__builtin_prefetch(&homes[x]);
			h_loc = hash8(e, p[P_S4]);
			t = draw(e, p[P_S1], SECONDS_PER_DAY);
			v1 = draw(e, p[P_S2], p[P_V1_RANGE]);
			v2 = draw(e, p[P_S6], p[P_V2_RANGE]);
			v3 = draw(e, p[P_S7], p[P_V3_RANGE]);
			if (type == MDS)
			{
				/* v1 duration in seconds, v2 and v3 upload and download volumes. */
				fv[F_DURATION] = NumericGetDatum(int64_to_numeric(v1));
				fv[F_VOLUME_TOTAL] = NumericGetDatum(int64_to_numeric(v2 + v3));
				fv[F_VOLUME_UPLOAD] = NumericGetDatum(int64_to_numeric(v2));
				fv[F_VOLUME_DOWNLOAD] = NumericGetDatum(int64_to_numeric(v3));
			}
			else
			{
				/* v1 picks the amount, v2 is the balance before; after it, 90 % of the amount is added. */
				int64		tenths = v2 * 10 + amounts[v1] * 9;
				char		buf[32];

				snprintf(buf, sizeof(buf), INT64_FORMAT ".%d", tenths / 10, (int) (tenths % 10));
				fv[F_TYPE] = CStringGetTextDatum("recharge");
				fv[F_RECHARGE] = recharge[v1];
				fv[F_AIRTIME_FEE] = zero;
				fv[F_TAX_AND_FEE] = tax_and_fee[v1];
				fv[F_PRE_BALANCE] = NumericGetDatum(int64_to_numeric(v2));
				fv[F_POST_BALANCE] = numeric_from(buf);
			}
		}
		fv[F_ID] = hex_text(p[P_ID_BASE] | e, 16);
		fv[F_DATETIME] = Int64GetDatum(((p[P_EPOCH] + t) - PG_EPOCH_SECONDS) * USECS_PER_SEC);
		fv[F_MSISDN] = hex_text(hash8(x, p[P_S_MSISDN]) | TOP_BIT, 16);
		fv[F_IMSI] = hex_text((hash8(x, p[P_S_IMSI]) & LOW_60) | BIT_56, 15);
		fv[F_IMEI] = hex_text(hash8(x, p[P_S_IMEI]) | TOP_BIT, 16);
		tac = draw(x, p[P_S_TAC], n_tacs);
		if (tac_numeric[tac] == (Datum) 0)
		{
			MemoryContextSwitchTo(old_context);
			tac_numeric[tac] = NumericGetDatum(int64_to_numeric(tacs[tac]));
			MemoryContextSwitchTo(batch_context);
		}
		fv[F_TAC] = tac_numeric[tac];

		/*
		 * The event's cell: with probability 1 - p_out (the low 24 bits of h_loc at or above p_out) one of the
		 * home range [lo, lo + cnt), else one outside it (the 40 bits above pick which). Cells are below 2^32:
		 * eight hex digits, zero-padded like lpad(to_hex(cell), 8, '0').
		 */
		home = homes[x];
		lo = home >> 32;
		cnt = home & LOW_32;
		far = (h_loc >> 24) & LOW_40;
		if (cnt > 0 && ((h_loc & LOW_24) >= p[P_P_OUT] || n_cells == cnt))
			pos = lo + far % cnt;
		else
		{
			pos = far % (n_cells - cnt);
			if (pos >= lo)
				pos += cnt;
		}
		fv[F_LOCATION] = hex_text(cells[pos], 8);
		used[pos] = true;

		ExecClearTuple(slot);
		for (int a = 0; a < desc->natts; a++)
		{
			slot->tts_isnull[a] = map[a] < 0;
			slot->tts_values[a] = map[a] < 0 ? (Datum) 0 : fv[map[a]];
		}
		ExecStoreVirtualTuple(slot);
		if (constrained)
			ExecConstraints(result_rel, slot, estate);
		if (++n_batch == BATCH_ROWS || i + 1 == first + count)
		{
			CHECK_FOR_INTERRUPTS();
			ResetPerTupleExprContext(estate);
			table_multi_insert(rel, slots, n_batch, cid, options, bistate);
			for (int s = 0; s < n_batch; s++)
				ExecClearTuple(slots[s]);
			n_batch = 0;
			MemoryContextReset(batch_context);
		}
	}

	MemoryContextSwitchTo(old_context);
	MemoryContextDelete(batch_context);
	for (int s = 0; s < BATCH_ROWS; s++)
		ExecDropSingleTupleTableSlot(slots[s]);
	FreeBulkInsertState(bistate);
	FreeExecutorState(estate);
	table_finish_bulk_insert(rel, options);
	table_close(rel, NoLock);

	used_ids = palloc(sizeof(Datum) * n_cells);
	for (int c = 0; c < n_cells; c++)
		if (used[c])
			used_ids[n_used++] = hex_text(cells[c], 8);
	PG_RETURN_ARRAYTYPE_P(construct_array(used_ids, n_used, TEXTOID, -1, false, TYPALIGN_INT));
}
