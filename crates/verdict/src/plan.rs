//! What a run judges: the catalogue, the lookup tables built from it once, and the time window.

use std::sync::Arc;

use hashbrown::HashMap;

use vpcflow_core::PortSet;

use crate::catalogue::Catalogue;

/// The catalogue of a run with its lookup tables and time window. Built once and shared by
/// every partial state of the run.
#[derive(Debug)]
pub struct Plan {
    pub(crate) catalogue: Catalogue,
    /// (address, port) → endpoint index.
    pub(crate) index: HashMap<([u8; 16], u16), u32>,
    /// Ports any endpoint listens on: a cheap first filter (and filter-first's, in the decoder).
    pub(crate) ports: PortSet,
    /// ENI name → the endpoint owning it.
    pub(crate) eni_owner: HashMap<String, u32>,
    /// Records must overlap `[since, until]` (Unix seconds).
    pub(crate) window: (i64, i64),
}

impl Plan {
    /// A plan for `catalogue`, counting only records that overlap `[since, until]` (Unix
    /// seconds; `None` is open).
    pub fn new(catalogue: Catalogue, since: Option<i64>, until: Option<i64>) -> Arc<Plan> {
        let mut index = HashMap::new();
        let mut eni_owner = HashMap::new();
        for (i, e) in catalogue.endpoints.iter().enumerate() {
            for a in &e.addresses {
                index.insert((crate::ip16(*a), e.port), i as u32);
            }
            for eni in &e.interface_ids {
                eni_owner.insert(eni.clone(), i as u32);
            }
        }
        let ports = PortSet::new(catalogue.endpoints.iter().map(|e| e.port));
        Arc::new(Plan {
            catalogue,
            index,
            ports,
            eni_owner,
            window: (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)),
        })
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The ports any endpoint listens on, for filter-first decoding: a record with neither
    /// port in it touches no endpoint.
    pub fn port_set(&self) -> PortSet {
        self.ports.clone()
    }

    /// The time window, `(since, until)` in Unix seconds (`i64::MIN`/`MAX` when open).
    pub fn window(&self) -> (i64, i64) {
        self.window
    }

    /// The index of the endpoint named `name`.
    pub(crate) fn endpoint_index(&self, name: &str) -> Option<u32> {
        self.catalogue
            .endpoints
            .iter()
            .position(|e| e.name == name)
            .map(|i| i as u32)
    }
}

/// ENI id `id` of one table as an id of another, through `ids` (the first table's ids → the
/// second's); an id `ids` does not map, such as `u32::MAX` (a record without an ENI), is
/// `u32::MAX`.
pub(crate) fn mapped(ids: &[u32], id: u32) -> u32 {
    ids.get(id as usize).copied().unwrap_or(u32::MAX)
}

/// ENI names by id, and ids by name: ids are small integers a state's pairs refer to.
#[derive(Clone, Debug, Default)]
pub(crate) struct EniTable {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl EniTable {
    /// The id of `name`, added if new.
    pub(crate) fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The id of `name`, if known.
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id` (`?` for an id this table never gave out).
    pub(crate) fn name(&self, id: u32) -> Arc<str> {
        self.names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    /// Every name, by id.
    pub(crate) fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// How many names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}
