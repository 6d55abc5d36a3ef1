//! `vpcflow_verdict(...)`: the verdict as a DataFusion aggregate whose state is
//! [`VerdictState`]'s binary form, and `vpcflow_shard(a, b)`, the group key that sends both
//! directions of a conversation to one group.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray, FixedSizeBinaryArray, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, FieldRef, Schema};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use vpcflow_verdict::{BYTES_PER_ATTEMPT, Catalogue, Plan, READ, VerdictState};

/// The aggregate's name in SQL.
pub const VERDICT: &str = "vpcflow_verdict";
/// The name in SQL of the aggregate whose final value is verdicts ([`VerdictUdaf::judging`]).
pub const JUDGED: &str = "vpcflow_judged";
/// The shard function's name in SQL.
pub const SHARD: &str = "vpcflow_shard";
/// Groups `vpcflow_shard` spreads conversations over: enough that every final-stage partition
/// gets several, few enough that the per-group states stay large.
pub const SHARDS: u32 = 64;

/// `vpcflow_verdict(srcaddr, dstaddr, …)`: folds the records it is given into the verdict
/// state of one catalogue and window, and returns that state in its binary form
/// ([`VerdictState::encode`]), which [`VerdictState::decode`] reads back.
///
/// Its arguments are columns of the flow-log table, recognised by name: pass every column of
/// [`READ`] the table has (at least the [`vpcflow_verdict::REQUIRED`] ones). The partial
/// states DataFusion ships between stages are the same binary form, and they merge exactly, so
/// the result does not depend on how the records were split or in which order they came.
///
/// [`VerdictUdaf::judging`] makes `vpcflow_judged(...)`: the same partial states, but its final
/// value is the verdicts of the group's pairs ([`VerdictState::encode_judged`]), which is
/// what a final stage holding whole pairs (a group of `vpcflow_shard`) should send.
#[derive(Debug)]
pub struct VerdictUdaf {
    plan: Arc<Plan>,
    /// What identifies the plan: the catalogue as TOML and the window.
    key: (String, Option<i64>, Option<i64>),
    /// The final value is the judged form, not the state.
    judged: bool,
    signature: Signature,
}

impl VerdictUdaf {
    /// The aggregate for `catalogue` and the window `[since, until]` (Unix seconds).
    pub fn new(catalogue: Catalogue, since: Option<i64>, until: Option<i64>) -> VerdictUdaf {
        let key = (catalogue.to_toml(), since, until);
        VerdictUdaf {
            plan: Plan::new(catalogue, since, until),
            key,
            judged: false,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    /// This aggregate as `vpcflow_judged`: its final value is the verdicts of its group's pairs
    /// with the group's header ([`VerdictState::encode_judged`]), not the state. Only a group
    /// that holds every record of its pairs gives whole verdicts.
    pub fn judging(mut self) -> VerdictUdaf {
        self.judged = true;
        self
    }

    /// Whether the final value is the judged form ([`VerdictUdaf::judging`]).
    pub fn judged(&self) -> bool {
        self.judged
    }

    /// The plan every accumulator folds with.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The catalogue (TOML) and window this aggregate was made for.
    pub fn key(&self) -> &(String, Option<i64>, Option<i64>) {
        &self.key
    }
}

impl PartialEq for VerdictUdaf {
    fn eq(&self, other: &VerdictUdaf) -> bool {
        (&self.key, self.judged) == (&other.key, other.judged)
    }
}

impl Eq for VerdictUdaf {}

impl Hash for VerdictUdaf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.judged.hash(state);
    }
}

impl AggregateUDFImpl for VerdictUdaf {
    fn name(&self) -> &str {
        if self.judged { JUDGED } else { VERDICT }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let fields: Vec<FieldRef> = args
            .expr_fields
            .iter()
            .map(|f| Arc::new(Field::new(f.name(), f.data_type().clone(), true)))
            .collect();
        if let Some(f) = fields.iter().find(|f| !READ.contains(&f.name().as_str())) {
            return exec_err!(
                "{VERDICT} takes flow-log columns by name ({}); `{}` is not one of them",
                READ.join(", "),
                f.name()
            );
        }
        Ok(Box::new(VerdictAccumulator {
            state: VerdictState::new(self.plan.clone()),
            schema: Arc::new(Schema::new(fields)),
            judged: self.judged,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[state]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// One group's verdict state.
#[derive(Debug)]
struct VerdictAccumulator {
    state: VerdictState,
    /// The arguments as the columns [`VerdictState::fold`] reads by name.
    schema: Arc<Schema>,
    /// The final value is the judged form.
    judged: bool,
}

impl Accumulator for VerdictAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), values.to_vec())?;
        self.state
            .fold(&batch)
            .map_err(|e| DataFusionError::Execution(format!("{VERDICT}: {e}")))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(if self.judged {
            self.state.encode_judged()
        } else {
            self.state.encode()
        })))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.state.attempts() * BYTES_PER_ATTEMPT
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.state.encode()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states
            .first()
            .and_then(|a| a.as_any().downcast_ref::<BinaryArray>())
        else {
            return exec_err!("{VERDICT}: a partial state that is not binary");
        };
        merge_states(&mut self.state, states)
    }
}

/// Merges every state of `states` (binary, as [`VerdictState::encode`] wrote them; nulls are
/// skipped) into `state`.
pub(crate) fn merge_states(state: &mut VerdictState, states: &BinaryArray) -> Result<()> {
    for bytes in states.iter().flatten() {
        let other = VerdictState::decode(state.plan().clone(), bytes)
            .map_err(|e| DataFusionError::Execution(format!("{VERDICT}: {e}")))?;
        state.merge_owned(other);
    }
    Ok(())
}

/// `vpcflow_shard(srcaddr, dstaddr)`: a number below [`SHARDS`] that is the same for both
/// directions of a conversation (the two addresses in either order), from XXH3, so every
/// process computes the same. A null address is shard 0.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ShardUdf {
    signature: Signature,
}

impl Default for ShardUdf {
    fn default() -> ShardUdf {
        ShardUdf {
            signature: Signature::exact(
                vec![DataType::FixedSizeBinary(16), DataType::FixedSizeBinary(16)],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for ShardUdf {
    fn name(&self) -> &str {
        SHARD
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (Some(a), Some(b)) = (
            arrays
                .first()
                .and_then(|a| a.as_any().downcast_ref::<FixedSizeBinaryArray>()),
            arrays
                .get(1)
                .and_then(|a| a.as_any().downcast_ref::<FixedSizeBinaryArray>()),
        ) else {
            return exec_err!("{SHARD} takes two addresses (16-byte binary)");
        };
        if a.value_length() != 16 || b.value_length() != 16 {
            return exec_err!("{SHARD} takes two addresses (16-byte binary)");
        }
        let shards: UInt32Array = (0..a.len())
            .map(|i| {
                if a.is_null(i) || b.is_null(i) {
                    return 0;
                }
                let (x, y) = (a.value(i), b.value(i));
                let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
                let mut both = [0u8; 32];
                both[..16].copy_from_slice(lo);
                both[16..].copy_from_slice(hi);
                (xxhash_rust::xxh3::xxh3_64(&both) % u64::from(SHARDS)) as u32
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(shards)))
    }
}
