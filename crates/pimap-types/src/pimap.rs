//! P-IMAP items: login names with device ids, preferences, filters, provisioning,
//! XDELIVER, XZIP framing, XCONVERT and session responses.

use bytes::Bytes;

use super::body::{Address, BodyStructure};
use super::core::{Atom, IString, Literal8, Mailbox, Secret};
use super::fetch::{FetchItems, Partial, Section};
use super::search::SearchKey;

/// A P-IMAP login name `user#device[@domain]` (spec §3.3, E-68).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginName {
    /// The user part (may itself contain `#` or `@`).
    pub user: Bytes,
    /// The device id (no `#` or `@`), if any: without it the session is plain IMAP.
    pub device: Option<Bytes>,
    /// The domain after the device id.
    pub domain: Option<Bytes>,
}

impl LoginName {
    /// Split a login name as `^(.+)#([^#@]+)(@(.+))?$`; no match means a plain IMAP user.
    pub fn parse(name: &[u8]) -> Self {
        let plain = || LoginName {
            user: Bytes::copy_from_slice(name),
            device: None,
            domain: None,
        };
        let Some(hash) = memchr::memrchr(b'#', name) else {
            return plain();
        };
        if hash == 0 {
            return plain();
        }
        let user = &name[..hash];
        let rest = &name[hash + 1..];
        let (dev, domain) = match memchr::memchr(b'@', rest) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if dev.is_empty() || domain.is_some_and(|d| d.is_empty()) {
            return plain();
        }
        LoginName {
            user: Bytes::copy_from_slice(user),
            device: Some(Bytes::copy_from_slice(dev)),
            domain: domain.map(Bytes::copy_from_slice),
        }
    }
    /// The account this name logs into, as the server keys sessions and store requests by
    /// default: the user, and with a domain `user@domain`, the domain in lower case. (A
    /// caller whose store names accounts otherwise answers the authentication with
    /// `Reply::Authenticated` and its own name for the account.)
    ///
    /// ```
    /// use pimap_types::LoginName;
    /// assert_eq!(&LoginName::parse(b"joe#phone@Foo.COM").account()[..], b"joe@foo.com");
    /// assert_eq!(&LoginName::parse(b"joe#phone").account()[..], b"joe");
    /// assert_eq!(&LoginName::parse(b"joe@foo.com").account()[..], b"joe@foo.com");
    /// ```
    pub fn account(&self) -> Bytes {
        Self::account_of(&self.user, self.domain.as_deref())
    }

    /// [`account`](Self::account) of a user and an optional domain.
    pub fn account_of(user: &[u8], domain: Option<&[u8]>) -> Bytes {
        match domain {
            None => Bytes::copy_from_slice(user),
            Some(d) => {
                let mut v = Vec::with_capacity(user.len() + d.len() + 1);
                v.extend_from_slice(user);
                v.push(b'@');
                v.extend(d.iter().map(u8::to_ascii_lowercase));
                Bytes::from(v)
            }
        }
    }

    /// Build the wire form `user#device[@domain]`.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = self.user.to_vec();
        if let Some(d) = &self.device {
            v.push(b'#');
            v.extend_from_slice(d);
            if let Some(dom) = &self.domain {
                v.push(b'@');
                v.extend_from_slice(dom);
            }
        }
        Bytes::from(v)
    }
}

/// `* SESSION` state of a resumed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Resumed in AUTHENTICATED state.
    Authenticated,
    /// Resumed in SELECTED state (followed by `* FOLDER`).
    Selected,
}

/// Which spelling of the preference command names was used (E-21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PrefCommandName {
    /// `XSETPIMAPPREF` / `XGETPIMAPPREFS` (-02…-12).
    #[default]
    Current,
    /// `XGETPIMAPPREF` (-01, singular; XSETPIMAPPREF is the same in -01). The -00 spellings
    /// `XSETPREF` / `XGETPREF` are read tolerantly and normalised to [`Self::Current`].
    Draft01,
}

/// Out-of-band notification channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `SMS`
    Sms,
    /// `GSMSMS`
    GsmSms,
    /// `WAP_PUSH`
    WapPush,
    /// `WAPWDP`
    WapWdp,
    /// `MMS`
    Mms,
    /// `UDP`
    Udp,
    /// `SIP`
    Sip,
    /// `JMS` (-00…-06)
    Jms,
    /// `NONE`: no out-of-band notifications.
    None,
    /// Any other atom (the list is extensible, E-76).
    Other(Atom),
}

impl Channel {
    /// The wire name (`SMS`, `GSMSMS`, `WAP_PUSH`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Channel::Sms => "SMS",
            Channel::GsmSms => "GSMSMS",
            Channel::WapPush => "WAP_PUSH",
            Channel::WapWdp => "WAPWDP",
            Channel::Mms => "MMS",
            Channel::Udp => "UDP",
            Channel::Sip => "SIP",
            Channel::Jms => "JMS",
            Channel::None => "NONE",
            Channel::Other(a) => std::str::from_utf8(a.as_bytes()).unwrap_or("?"),
        }
    }
}

/// Out-of-band payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutbandFormat {
    /// OMA EMN.
    Emn,
    /// EXTENDED (-06+ App B.2).
    Extended,
}

/// Event filter (`PIMAP_EVENT_FILTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFilter {
    /// Push every change.
    All,
    /// Push nothing.
    None,
    /// Push new messages only.
    New,
}

/// Filter type of XFILTER / PIMAP_XFILTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterType {
    /// `V`: view filter.
    View,
    /// `N` (also `P`, E-29): notification filter.
    Notification,
    /// `B`: both.
    Both,
}

/// A folder selector: a mailbox, or `ALL` for every folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FolderSelector {
    /// `ALL`
    All,
    /// A mailbox.
    Mailbox(Mailbox),
}

/// `PIMAP_INBAND_NEW_FORMAT` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NewFormat {
    /// `NONE`: send EXISTS as usual.
    None,
    /// FETCH items to send instead of EXISTS.
    Fetch(FetchItems),
}

/// `PIMAP_XFILTER (folder type name)` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XFilterActivation {
    /// Folder or ALL.
    pub folder: FolderSelector,
    /// View, notification or both.
    pub filter_type: FilterType,
    /// Filter name.
    pub name: Atom,
}

/// One preference setting of XSETPIMAPPREF.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrefSetting {
    /// `PIMAP_OUTBAND_ADDRESS device_address`
    OutbandAddress(IString),
    /// `PIMAP_OUTBAND_CHANNEL channel`
    OutbandChannel(Channel),
    /// `PIMAP_INBAND_NEW_FORMAT NONE|items`
    InbandNewFormat(NewFormat),
    /// `PIMAP_INBAND_PUSH ON|OFF`
    InbandPush(bool),
    /// `PIMAP_OUTBAND_FORMAT EMN|EXTENDED`
    OutbandFormat(OutbandFormat),
    /// `PIMAP_EVENT_FILTER ALL|NONE|NEW` (E-22)
    EventFilter(EventFilter),
    /// `PIMAP_XFILTER (folder V|N|B name)`
    XFilter(XFilterActivation),
    /// -00/-01 `PIMAP_OUTBAND_NEW_FORMAT NONE|items`
    OutbandNewFormat(NewFormat),
    /// -00 `PIMAP_OUTBAND_TYPE_SMS address` (address plus implied SMS channel)
    OutbandTypeSms(IString),
    /// -00 `PIMAP_OUTBAND_TYPE_JMS address`
    OutbandTypeJms(IString),
    /// An unknown preference name with a raw value (e.g. `L_HTTP_TUNNEL`).
    Other {
        /// Preference name.
        name: Atom,
        /// Value.
        value: PrefValue,
    },
}

/// A generic preference value: atom/string, or parenthesised list (XGETPIMAPPREFS, E-20).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrefValue {
    /// An atom or string.
    String(IString),
    /// `NIL`
    Nil,
    /// `( ... )`
    List(Vec<PrefValue>),
}

/// Preference names (XGETPIMAPPREFS, XPROVISION).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrefName {
    /// `PIMAP_OUTBAND_ADDRESS`
    OutbandAddress,
    /// `PIMAP_OUTBAND_CHANNEL`
    OutbandChannel,
    /// `PIMAP_INBAND_NEW_FORMAT`
    InbandNewFormat,
    /// `PIMAP_INBAND_PUSH`
    InbandPush,
    /// `PIMAP_OUTBAND_FORMAT`
    OutbandFormat,
    /// `PIMAP_EVENT_FILTER`
    EventFilter,
    /// `PIMAP_XFILTER`
    XFilter,
    /// `PIMAP_OUTBAND_NEW_FORMAT` (-00/-01)
    OutbandNewFormat,
    /// `PIMAP_OUTBAND_TYPE_SMS` (-00)
    OutbandTypeSms,
    /// `PIMAP_OUTBAND_TYPE_JMS` (-00)
    OutbandTypeJms,
    /// Any other name (`L_HTTP_TUNNEL`, `XFILTER_FOLDER`, ...).
    Other(Atom),
}

impl PrefName {
    /// The canonical wire name.
    pub fn as_str(&self) -> &str {
        match self {
            PrefName::OutbandAddress => "PIMAP_OUTBAND_ADDRESS",
            PrefName::OutbandChannel => "PIMAP_OUTBAND_CHANNEL",
            PrefName::InbandNewFormat => "PIMAP_INBAND_NEW_FORMAT",
            PrefName::InbandPush => "PIMAP_INBAND_PUSH",
            PrefName::OutbandFormat => "PIMAP_OUTBAND_FORMAT",
            PrefName::EventFilter => "PIMAP_EVENT_FILTER",
            PrefName::XFilter => "PIMAP_XFILTER",
            PrefName::OutbandNewFormat => "PIMAP_OUTBAND_NEW_FORMAT",
            PrefName::OutbandTypeSms => "PIMAP_OUTBAND_TYPE_SMS",
            PrefName::OutbandTypeJms => "PIMAP_OUTBAND_TYPE_JMS",
            PrefName::Other(a) => std::str::from_utf8(a.as_bytes()).unwrap_or("?"),
        }
    }
    /// Map a (case-insensitive) name to a known preference, with the E-75 alias.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        let up = name.to_ascii_uppercase();
        Some(match up.as_slice() {
            b"PIMAP_OUTBAND_ADDRESS" => PrefName::OutbandAddress,
            b"PIMAP_OUTBAND_CHANNEL" => PrefName::OutbandChannel,
            b"PIMAP_INBAND_NEW_FORMAT" | b"PIMAP_IN-BAND_NEW_FORMAT" => PrefName::InbandNewFormat,
            b"PIMAP_INBAND_PUSH" => PrefName::InbandPush,
            b"PIMAP_OUTBAND_FORMAT" => PrefName::OutbandFormat,
            b"PIMAP_EVENT_FILTER" => PrefName::EventFilter,
            b"PIMAP_XFILTER" => PrefName::XFilter,
            b"PIMAP_OUTBAND_NEW_FORMAT" => PrefName::OutbandNewFormat,
            b"PIMAP_OUTBAND_TYPE_SMS" => PrefName::OutbandTypeSms,
            b"PIMAP_OUTBAND_TYPE_JMS" => PrefName::OutbandTypeJms,
            _ => return None,
        })
    }
}

/// XFILTER commands (all generations).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XFilterCommand {
    /// Generation 3 `XFILTER GET [CHARSET c] name (DESC CRITERIA)`.
    Get {
        /// Optional charset.
        charset: Option<IString>,
        /// Filter name.
        name: Atom,
        /// Requested `DESC` attribute.
        desc: bool,
        /// Requested `CRITERIA` attribute.
        criteria: bool,
    },
    /// Generation 3 `XFILTER SET [CHARSET c] name "desc" (criteria)`.
    Set {
        /// Optional charset.
        charset: Option<IString>,
        /// Filter name.
        name: Atom,
        /// Human description.
        description: IString,
        /// Criteria (non-empty).
        criteria: Vec<SearchKey>,
    },
    /// Generation 1/2 `XFILTER folder|ALL V|N|B GET`.
    LegacyGet {
        /// Folder or ALL.
        folder: FolderSelector,
        /// Filter type.
        filter_type: FilterType,
    },
    /// Generation 1/2 `XFILTER folder|ALL V|N|B criteria` (`NONE` is [`SearchKey::None`]).
    LegacySet {
        /// Folder or ALL.
        folder: FolderSelector,
        /// Filter type.
        filter_type: FilterType,
        /// Criteria (non-empty).
        criteria: Vec<SearchKey>,
    },
}

/// `* XFILTER` responses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XFilterResponse {
    /// Generation 3: `* XFILTER name (DESC "..." CRITERIA (...))`.
    Named {
        /// Filter name.
        name: Atom,
        /// Description, if returned.
        description: Option<IString>,
        /// Criteria, if returned.
        criteria: Option<Vec<SearchKey>>,
    },
    /// Generation 1/2: `* XFILTER mailbox V|N|B criteria`.
    Folder {
        /// Mailbox.
        folder: Mailbox,
        /// Filter type.
        filter_type: FilterType,
        /// Criteria.
        criteria: Vec<SearchKey>,
    },
}

/// `* XPROVISION` items.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProvisionItem {
    /// `XPIMAPPREF name (values)`: allowed values of a preference.
    PrefValues {
        /// Preference name.
        name: PrefName,
        /// Allowed values.
        values: Vec<IString>,
    },
    /// `XFILTER (keys)` (-02…-05): supported search keys.
    FilterCriteria(Vec<IString>),
    /// `XFILTER_GET (DESC CRITERIA)` (-06…-10).
    FilterGet(Vec<IString>),
    /// `XFILTER_SET (keys)` (-06…-10).
    FilterSet(Vec<IString>),
    /// `PIMAP_NOTIFICATION_ADDRESS (address)` (-07+).
    NotificationAddress(IString),
    /// `PIMAP_NOTIFICATION_PORT (port)` (-07+).
    NotificationPort(IString),
    /// `PIMAP_UDP_HOST (host)` (-06, deprecated).
    UdpHost(IString),
    /// `PIMAP_UDP_PORT (port)` (-06, deprecated).
    UdpPort(IString),
    /// `PIMAP_ENC_KEY (key)`; `legacy` for the -00/-01 `ENC_KEY key` form.
    EncKey {
        /// The key (redacted in Debug).
        key: Secret<IString>,
        /// -00/-01 `ENC_KEY key` form.
        legacy: bool,
    },
    /// Anything else: a name with values (the -00/-01 generic form).
    Other {
        /// Item name.
        name: Atom,
        /// Values.
        values: Vec<PrefValue>,
    },
}

/// XDELIVER kind: new, reply or forward.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliverKind {
    /// `N`
    New,
    /// `R original Y|N`
    Reply(OriginalMessage),
    /// `F original Y|N`
    Forward(OriginalMessage),
}

/// The original of a reply/forward.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalMessage {
    /// Folder (absent in generation A: the selected folder).
    pub folder: Option<Mailbox>,
    /// UIDVALIDITY (generations C/D).
    pub uid_validity: Option<u32>,
    /// UID of the original.
    pub uid: u32,
    /// `Y`: include the original's attachments.
    pub attachments: bool,
}

/// XDELIVER commands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XDeliverCommand {
    /// Generations A–D: `XDELIVER N|R|F ... [SAVETO=mbx] [ENVELOPE (...)] literal`.
    Classic {
        /// New/reply/forward.
        kind: DeliverKind,
        /// Folder to save a copy in.
        save_to: Option<Mailbox>,
        /// Explicit SMTP recipients (generation D); `Some(vec![])` is `ENVELOPE NIL`.
        envelope: Option<Vec<Address>>,
        /// The RFC 2822 message.
        message: Literal8,
    },
    /// Generation E/F `XDELIVER CAPABILITY`.
    Capability,
    /// Generation E/F `XDELIVER TEXT literal` (batch SMTP).
    Text(Literal8),
}

/// XZIP commands (generations 1–3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XZipCommand {
    /// `XZIP tag command`: the wrapped command is executed and its response compressed.
    Wrapped(Box<super::command::Command>),
    /// `XZIP INLINE literal`: a compressed `tag command CRLF`.
    Inline(Literal8),
}

/// The framing of an XZIP compressed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XZipFraming {
    /// `* {n}` (generations 1/2, gzip).
    Bare,
    /// `* XZIP ~{n}` (generation 3). The `* LZIP ~{n}` spelling of one -08 example is read
    /// tolerantly as this.
    XZip,
}

/// Legacy XCONVERT command (-00…-07).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XConvertCommand {
    /// `UID XCONVERT` / `XUIDCONVERT`.
    pub uid: bool,
    /// `XUIDCONVERT` spelling (-00/-01).
    pub xuid_name: bool,
    /// Message sequence number or UID.
    pub id: u32,
    /// `BODY[.PEEK]` spelling (true) or bare part (false).
    pub body_form: bool,
    /// `.PEEK`
    pub peek: bool,
    /// Part numbers.
    pub part: Vec<u32>,
    /// `<start.count>`
    pub partial: Option<Partial>,
    /// Target `type/subtype` (may be `DEFAULT/DEFAULT`).
    pub media_type: IString,
    /// `;name=value` parameters.
    pub params: Vec<(IString, IString)>,
}

/// Legacy `* n XCONVERT (...)` response items (-06/-07) or opaque data (-00…-05).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XConvertData {
    /// `(UID u BODYPARTSTRUCTURE[p] (...) BODY[p]<o> literal)`.
    Items {
        /// UID (UID form).
        uid: Option<u32>,
        /// Section of the part.
        section: Section,
        /// Structure of the converted part.
        body: Box<BodyStructure>,
        /// `<origin>`
        origin: Option<u32>,
        /// Converted data.
        data: Bytes,
    },
    /// -00…-05: `* n XCONVERT {n}` followed by the converted data as one literal.
    Literal(Literal8),
    /// Anything else after `XCONVERT`, kept raw (re-encodes byte for byte).
    Raw(Bytes),
}

#[cfg(test)]
mod tests {
    use super::LoginName;

    #[test]
    fn login_name_split_follows_e68() {
        let n = LoginName::parse(b"joe#P6505551234@foo.com");
        assert_eq!(&n.user[..], b"joe");
        assert_eq!(n.device.as_deref(), Some(&b"P6505551234"[..]));
        assert_eq!(n.domain.as_deref(), Some(&b"foo.com"[..]));
        assert_eq!(&n.to_bytes()[..], b"joe#P6505551234@foo.com");

        let n = LoginName::parse(b"joe#P6505551234");
        assert_eq!(n.device.as_deref(), Some(&b"P6505551234"[..]));
        assert_eq!(n.domain, None);

        // user names containing '#' and '@': the last '#' starts the device id
        let n = LoginName::parse(b"a#b@c#dev@dom");
        assert_eq!(&n.user[..], b"a#b@c");
        assert_eq!(n.device.as_deref(), Some(&b"dev"[..]));
        assert_eq!(n.domain.as_deref(), Some(&b"dom"[..]));

        for plain in [
            &b"joe"[..],
            b"joe@foo.com",
            b"#dev",
            b"joe#",
            b"joe#@dom",
            b"joe#dev@",
        ] {
            let n = LoginName::parse(plain);
            assert_eq!(n.device, None, "{:?}", String::from_utf8_lossy(plain));
            assert_eq!(&n.user[..], plain);
        }
    }
}
