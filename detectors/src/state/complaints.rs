//! Supply complaints (SPEC §4 `vbp.complaints`, §6.5): what an institution
//! filed, the enterprise's first reply with the fix date it promised, and
//! when the problem was resolved.
//!
//! Order does not matter: a reply or resolution waits for its complaint
//! (the engine holds it), and of several replies the earliest counts
//! ("the first reply"), of several resolutions the earliest, so the same
//! events give the same complaint whatever order they arrive in.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use vbp_schemas::{ComplaintFiled, ComplaintKind, ComplaintReplied, Event, Reason};

use super::{micros, reject, Awaited, IdMap, Micros, Outcome, State};
use crate::reference::{InstitutionId, ProductId, ReferenceData};
use crate::time::local_date;

/// One complaint and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub institution: InstitutionId,
    pub product: ProductId,
    pub kind: ComplaintKind,
    pub text: Option<String>,
    pub filed_at: Micros,
    /// date(filed_at) in China Standard Time.
    pub filed_on: NaiveDate,
    /// The first reply (earliest `occurred_at`).
    pub reply: Option<Reply>,
    /// The earliest `complaint.resolved`.
    pub resolved_at: Option<Micros>,
    /// Event time of the last change, for retention.
    pub last_change: Micros,
}

/// `complaint.replied`: when, and the fix date promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reply {
    pub replied_at: Micros,
    pub promised_by: NaiveDate,
}

impl Reply {
    /// date(replied_at) in China Standard Time.
    pub fn replied_on(&self) -> NaiveDate {
        crate::time::in_china(self.replied_at).date_naive()
    }
}

/// The complaints by `complaint_id`.
pub type Complaints = IdMap<Complaint>;

impl State {
    pub(super) fn complaint_filed(&mut self, reference: &ReferenceData, event: &Event, e: &ComplaintFiled) -> Result<Outcome, Outcome> {
        let institution = reference.institution(&e.institution_code).ok_or_else(|| {
            reject(Reason::UnknownInstitution, format!("institution `{}` is not in institutions.csv", e.institution_code))
        })?;
        let product = reference
            .product(&e.product_code)
            .ok_or_else(|| reject(Reason::UnknownProduct, format!("product `{}` is not in products.csv", e.product_code)))?;
        if self.complaints.contains_key(&e.complaint_id) {
            return Err(reject(Reason::BadValue, format!("complaint `{}` was already filed by another event", e.complaint_id)));
        }
        let at = micros(event);
        let complaint = Complaint {
            institution,
            product,
            kind: e.kind,
            text: e.text.clone(),
            filed_at: at,
            filed_on: local_date(event.occurred_at),
            reply: None,
            resolved_at: None,
            last_change: at,
        };
        self.complaints.insert(e.complaint_id.clone(), complaint);
        Ok(Outcome::Applied)
    }

    pub(super) fn complaint_replied(&mut self, at: Micros, e: &ComplaintReplied) -> Result<Outcome, Outcome> {
        let complaint = self.known_complaint(&e.complaint_id, at, "replied to")?;
        let reply = Reply { replied_at: at, promised_by: e.promised_by };
        complaint.reply = Some(complaint.reply.map_or(reply, |earlier| earlier.min(reply)));
        complaint.last_change = complaint.last_change.max(at);
        Ok(Outcome::Applied)
    }

    pub(super) fn complaint_resolved(&mut self, at: Micros, complaint_id: &str) -> Result<Outcome, Outcome> {
        let complaint = self.known_complaint(complaint_id, at, "resolved")?;
        complaint.resolved_at = Some(complaint.resolved_at.map_or(at, |earlier| earlier.min(at)));
        complaint.last_change = complaint.last_change.max(at);
        Ok(Outcome::Applied)
    }

    /// The complaint an answer refers to: it waits for a complaint not filed
    /// yet, and an answer dated before the filing is a `bad_value`.
    fn known_complaint(&mut self, complaint_id: &str, at: Micros, what: &str) -> Result<&mut Complaint, Outcome> {
        let complaint = self
            .complaints
            .get_mut(complaint_id)
            .ok_or_else(|| Outcome::Waiting(Awaited::Complaint(complaint_id.to_string())))?;
        if at < complaint.filed_at {
            let when = |t: Micros| crate::time::in_china(t).to_rfc3339();
            return Err(reject(
                Reason::BadValue,
                format!("complaint `{complaint_id}` is {what} at {} before it was filed at {}", when(at), when(complaint.filed_at)),
            ));
        }
        Ok(complaint)
    }
}
