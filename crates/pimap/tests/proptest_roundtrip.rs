//! Property tests of the encoder against the decoder.
//!
//! The strategies build valid values in canonical form directly (every command body, every
//! response, untagged data, response code and FETCH item variant), with strings drawn from
//! small alphabets that include characters needing quoting (`"`, `\`, SP, `%`) and
//! characters needing literals (CR, LF, 8-bit). Properties:
//!
//! 1. `encode` then decode gives back the value (commands and responses);
//! 2. a sequence of encoded values fed in random pieces (down to one byte) decodes to the
//!    same values as when fed whole;
//! 3. the fragment view of an encoding concatenates to the encoding.

use std::num::NonZeroU32;

use bytes::Bytes;
use pimap::codec::{CommandDecoder, Dialect, Encode, EncodeOptions, Fragment, ResponseDecoder};
use pimap::types::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------- alphabets

/// String content: atom characters, quoted-specials, list wildcards, parentheses, CR/LF,
/// 8-bit and a control character.
const STR_CHARS: &[u8] = b"abcXYZ019 \"\\%*()]{}~-_.:/#$@!&'\r\n\xc3\xa9\x7f\x01";
/// Human-readable text (no CR/LF, no `[` or `{` that would read as a code or literal; NUL
/// and 8-bit bytes are passed through).
const TEXT_CHARS: &[u8] = b"abc XYZ 019.,:;!?()\"\\%*]}-\xc3\xa9\0";
const ATOM_CHARS: &[u8] = b"ABCXYZabcxyz0123456789-_.$!#&',;<>=?@^`|~/+:";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TAG_CHARS: &[u8] = b"Aa09.-_$!]";
const B64: &[u8] = b"ABCxyz0189+/=";

fn bytes_from(alpha: &'static [u8], len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(alpha), len)
}

fn istring() -> BoxedStrategy<IString> {
    prop_oneof![
        20 => bytes_from(STR_CHARS, 0..10),
        1 => Just(b"x".repeat(1100)),
        2 => prop::sample::select(vec![&b"NIL"[..], b"nil", b"ALL", b"", b"INBOX", b"12"]).prop_map(|b| b.to_vec()),
    ]
    .prop_map(|b| IString::new(b).unwrap())
    .boxed()
}

fn nstring() -> BoxedStrategy<NString> {
    prop::option::weighted(0.8, istring()).boxed()
}

fn text() -> BoxedStrategy<Bytes> {
    bytes_from(TEXT_CHARS, 0..16)
        .prop_filter("no leading SP", |b| b.first() != Some(&b' '))
        .prop_map(Bytes::from)
        .boxed()
}

fn atom() -> BoxedStrategy<Atom> {
    bytes_from(ATOM_CHARS, 1..8)
        .prop_map(|b| Atom::new(b).unwrap())
        .boxed()
}

/// An atom that is not a keyword of any position: `prefix` plus upper-case characters.
fn named(prefix: &'static str) -> BoxedStrategy<Atom> {
    bytes_from(UPPER, 1..6)
        .prop_map(move |b| {
            let mut v = prefix.as_bytes().to_vec();
            v.extend(b);
            Atom::new(v).unwrap()
        })
        .boxed()
}

fn tag() -> BoxedStrategy<Tag> {
    bytes_from(TAG_CHARS, 1..6)
        .prop_map(|b| Tag::new(b).unwrap())
        .boxed()
}

fn mailbox() -> BoxedStrategy<Mailbox> {
    prop_oneof![
        4 => istring().prop_map(|s| s.to_bytes()),
        1 => prop::sample::select(vec!["INBOX", "inbox", "ALL", "all", "Y", "n", "NIL", "GET", "SET", ""])
            .prop_map(|s| Bytes::from_static(s.as_bytes())),
    ]
    .prop_map(|b| Mailbox::new(b).unwrap())
    .boxed()
}

fn nz() -> BoxedStrategy<u32> {
    prop_oneof![1u32..100, 1u32..=u32::MAX].boxed()
}

fn nz_small() -> impl Strategy<Value = u32> {
    1u32..30
}

fn any_bytes() -> BoxedStrategy<Bytes> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        bytes_from(STR_CHARS, 0..12),
    ]
    .prop_map(Bytes::from)
    .boxed()
}

fn literal8() -> BoxedStrategy<Literal8> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Literal8::binary),
        bytes_from(STR_CHARS, 0..40).prop_map(|b| Literal8::text(b).unwrap()),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------- core values

fn seq_no() -> BoxedStrategy<SeqNo> {
    prop_oneof![
        4 => nz().prop_map(|n| SeqNo::Value(NonZeroU32::new(n).unwrap())),
        1 => Just(SeqNo::Largest),
    ]
    .boxed()
}

fn seq_set() -> BoxedStrategy<SequenceSet> {
    let range = prop_oneof![
        seq_no().prop_map(SeqRange::Single),
        (seq_no(), seq_no()).prop_map(|(a, b)| SeqRange::Range(a, b)),
    ];
    prop_oneof![
        8 => prop::collection::vec(range, 1..4).prop_map(SequenceSet::Ranges),
        1 => Just(SequenceSet::Saved),
    ]
    .boxed()
}

fn flag(with_recent: bool) -> BoxedStrategy<Flag> {
    let mut v = vec![
        Just(Flag::Answered).boxed(),
        Just(Flag::Flagged).boxed(),
        Just(Flag::Deleted).boxed(),
        Just(Flag::Seen).boxed(),
        Just(Flag::Draft).boxed(),
        Just(Flag::Forwarded).boxed(),
        named("X").prop_map(Flag::Extension).boxed(),
        atom().prop_map(Flag::Keyword).boxed(),
    ];
    if with_recent {
        v.push(Just(Flag::Recent).boxed());
        v.push(Just(Flag::Wildcard).boxed());
    }
    prop::strategy::Union::new(v).boxed()
}

fn flags(with_recent: bool) -> BoxedStrategy<Vec<Flag>> {
    prop::collection::vec(flag(with_recent), 0..4).boxed()
}

fn date() -> BoxedStrategy<Date> {
    (prop_oneof![1900u16..2100, 0u16..=9999], 1u8..=12, 1u8..=31)
        .prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
        .boxed()
}

fn date_time() -> BoxedStrategy<DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..=60, -5999i16..=5999)
        .prop_map(|(d, h, m, s, z)| DateTime::new(d, h, m, s, z).unwrap())
        .boxed()
}

fn capability() -> BoxedStrategy<Capability> {
    prop_oneof![
        prop::sample::select(vec![
            "IMAP4rev1",
            "IDLE",
            "AUTH=PLAIN",
            "xPIMAPv1r1",
            "LITERAL+"
        ])
        .prop_map(|s| Capability(Atom::try_from(s).unwrap())),
        atom().prop_map(Capability),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------- search

fn search_key() -> BoxedStrategy<SearchKey> {
    use SearchKey as K;
    let leaf = prop_oneof![
        prop::sample::select(vec![
            K::All,
            K::Answered,
            K::Deleted,
            K::Draft,
            K::Flagged,
            K::New,
            K::Old,
            K::Recent,
            K::Seen,
            K::Unanswered,
            K::Undeleted,
            K::Undraft,
            K::Unflagged,
            K::Unseen,
            K::Forwarded,
            K::Unforwarded,
            K::None,
        ]),
        istring().prop_map(K::Bcc),
        istring().prop_map(K::Body),
        istring().prop_map(K::Cc),
        istring().prop_map(K::From),
        istring().prop_map(K::Subject),
        istring().prop_map(K::Text),
        istring().prop_map(K::To),
        (istring(), istring()).prop_map(|(a, b)| K::Header(a, b)),
        atom().prop_map(K::Keyword),
        atom().prop_map(K::Unkeyword),
        date().prop_map(K::Before),
        date().prop_map(K::On),
        date().prop_map(K::Since),
        date().prop_map(K::SentBefore),
        date().prop_map(K::SentOn),
        date().prop_map(K::SentSince),
        any::<u32>().prop_map(K::Larger),
        any::<u32>().prop_map(K::Smaller),
        nz().prop_map(K::Younger),
        nz().prop_map(K::Older),
        any::<u32>().prop_map(K::DaysBeforeToday),
        seq_set().prop_map(K::Uid),
        seq_set().prop_map(K::SequenceSet),
        (
            prop::option::of((
                istring(),
                prop::sample::select(vec!["priv", "shared", "all"])
                    .prop_map(|s| Atom::try_from(s).unwrap())
            )),
            any::<u64>()
        )
            .prop_map(|(entry, modseq)| K::ModSeq { entry, modseq }),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| K::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| K::Or(Box::new(a), Box::new(b))),
            prop::collection::vec(inner, 1..4).prop_map(K::And),
        ]
    })
    .boxed()
}

fn criteria() -> BoxedStrategy<Vec<SearchKey>> {
    prop::collection::vec(search_key(), 1..4).boxed()
}

// ---------------------------------------------------------------------------- fetch

fn part() -> BoxedStrategy<Vec<u32>> {
    prop::collection::vec(nz_small(), 0..3).boxed()
}

fn convert_spec() -> BoxedStrategy<ConvertSpec> {
    let not_nil = |s: &IString| !s.as_bytes().eq_ignore_ascii_case(b"NIL");
    let media = prop_oneof![
        (istring(), istring())
            .prop_filter("NIL NIL is Default", move |(a, b)| not_nil(a) || not_nil(b))
            .prop_map(|(a, b)| ConvertMedia::TypeSubtype(a, b)),
        istring().prop_map(ConvertMedia::Combined),
        Just(ConvertMedia::Default),
    ];
    (
        any::<bool>(),
        media,
        prop::collection::vec((istring(), istring()), 0..3),
    )
        .prop_map(|(strict, media, params)| ConvertSpec {
            strict,
            media,
            params,
        })
        .boxed()
}

fn section() -> BoxedStrategy<Section> {
    (
        part(),
        0u8..7,
        prop::collection::vec(istring(), 1..3),
        any::<bool>(),
        convert_spec(),
    )
        .prop_map(|(part, which, fields, not, conv)| {
            let text = match which {
                0 | 1 => None,
                2 => Some(SectionText::Header),
                3 => Some(SectionText::HeaderFields { not, fields }),
                4 => Some(SectionText::Text),
                5 if !part.is_empty() => Some(SectionText::Mime),
                5 => None,
                _ => Some(SectionText::Convert(Box::new(conv))),
            };
            Section { part, text }
        })
        .boxed()
}

fn partial() -> BoxedStrategy<Option<Partial>> {
    prop::option::of((any::<u32>(), nz()).prop_map(|(origin, count)| Partial { origin, count }))
        .boxed()
}

fn fetch_macro() -> BoxedStrategy<FetchMacro> {
    prop::sample::select(vec![FetchMacro::All, FetchMacro::Fast, FetchMacro::Full]).boxed()
}

fn fetch_attr() -> BoxedStrategy<FetchAttr> {
    prop_oneof![
        prop::sample::select(vec![
            FetchAttr::Envelope,
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822,
            FetchAttr::Rfc822Header,
            FetchAttr::Rfc822Size,
            FetchAttr::Rfc822Text,
            FetchAttr::Body,
            FetchAttr::BodyStructure,
            FetchAttr::Uid,
            FetchAttr::ModSeq,
        ]),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttr::Binary {
                peek,
                section,
                partial,
            }
        }),
        section().prop_map(|section| FetchAttr::BinarySize { section }),
        (any::<bool>(), part(), partial()).prop_map(|(peek, part, partial)| FetchAttr::XZip {
            peek,
            part,
            partial
        }),
        part().prop_map(|part| FetchAttr::XZipSize { part }),
        fetch_macro().prop_map(FetchAttr::Macro),
        any::<bool>().prop_map(|lazy| FetchAttr::Preview { lazy }),
        Just(FetchAttr::SaveDate),
    ]
    .boxed()
}

fn fetch_items() -> BoxedStrategy<FetchItems> {
    prop_oneof![
        1 => fetch_macro().prop_map(FetchItems::Macro),
        4 => prop::collection::vec(fetch_attr(), 1..4).prop_map(FetchItems::List),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------- envelope, body

fn address() -> BoxedStrategy<Address> {
    (nstring(), nstring(), nstring(), nstring())
        .prop_map(|(name, adl, mailbox, host)| Address {
            name,
            adl,
            mailbox,
            host,
        })
        .boxed()
}

fn addresses() -> BoxedStrategy<Vec<Address>> {
    prop::collection::vec(address(), 0..3).boxed()
}

fn envelope() -> BoxedStrategy<Envelope> {
    (
        (nstring(), nstring(), addresses(), addresses(), addresses()),
        (addresses(), addresses(), addresses(), nstring(), nstring()),
    )
        .prop_map(
            |((date, subject, from, sender, reply_to), (to, cc, bcc, in_reply_to, message_id))| {
                Envelope {
                    date,
                    subject,
                    from,
                    sender,
                    reply_to,
                    to,
                    cc,
                    bcc,
                    in_reply_to,
                    message_id,
                }
            },
        )
        .boxed()
}

fn params() -> BoxedStrategy<Vec<(IString, IString)>> {
    prop::collection::vec((istring(), istring()), 0..3).boxed()
}

fn body_extension() -> BoxedStrategy<BodyExtension> {
    prop_oneof![
        nstring().prop_map(BodyExtension::NString),
        any::<u32>().prop_map(BodyExtension::Number),
    ]
    .prop_recursive(3, 12, 3, |inner| {
        prop::collection::vec(inner, 1..3).prop_map(BodyExtension::List)
    })
    .boxed()
}

fn ext_tail() -> BoxedStrategy<Option<ExtensionTail>> {
    let location = (nstring(), prop::collection::vec(body_extension(), 0..3)).prop_map(
        |(location, extensions)| LocationTail {
            location,
            extensions,
        },
    );
    let language = (
        prop::collection::vec(istring(), 0..3),
        prop::option::of(location),
    )
        .prop_map(|(languages, location)| LanguageTail {
            languages,
            location,
        });
    prop::option::of(
        (
            prop::option::of((istring(), params())),
            prop::option::of(language),
        )
            .prop_map(|(disposition, language)| ExtensionTail {
                disposition,
                language,
            }),
    )
    .boxed()
}

fn basic_fields(media: BoxedStrategy<(IString, IString)>) -> BoxedStrategy<BasicFields> {
    (
        media,
        params(),
        nstring(),
        nstring(),
        istring(),
        any::<u32>(),
    )
        .prop_map(
            |((media_type, subtype), params, id, description, encoding, octets)| BasicFields {
                media_type,
                subtype,
                params,
                id,
                description,
                encoding,
                octets,
            },
        )
        .boxed()
}

fn single_ext() -> BoxedStrategy<Option<SinglePartExtension>> {
    prop::option::of(
        (nstring(), ext_tail()).prop_map(|(md5, tail)| SinglePartExtension { md5, tail }),
    )
    .boxed()
}

fn body() -> BoxedStrategy<BodyStructure> {
    let is = |s: &'static str| IString::try_from(s).unwrap();
    let other_media = prop_oneof![
        prop::sample::select(vec!["IMAGE", "APPLICATION", "audio"])
            .prop_map(move |t| (is(t), is("PNG"))),
        (istring(), istring()).prop_filter("not TEXT or MESSAGE", |(t, _)| {
            !t.as_bytes().eq_ignore_ascii_case(b"TEXT")
                && !t.as_bytes().eq_ignore_ascii_case(b"MESSAGE")
        }),
    ]
    .boxed();
    let text_media = prop::sample::select(vec!["TEXT", "text"])
        .prop_flat_map(move |t| istring().prop_map(move |st| (is(t), st)))
        .boxed();
    let leaf = prop_oneof![
        (basic_fields(other_media), single_ext()).prop_map(|(basic, extension)| {
            BodyStructure::Single {
                basic,
                specific: SpecificFields::Basic,
                extension,
            }
        }),
        (basic_fields(text_media), any::<u32>(), single_ext()).prop_map(
            |(basic, lines, extension)| {
                BodyStructure::Single {
                    basic,
                    specific: SpecificFields::Text { lines },
                    extension,
                }
            }
        ),
    ];
    leaf.prop_recursive(4, 16, 3, move |inner| {
        let message_media = Just((is("MESSAGE"), is("RFC822"))).boxed();
        prop_oneof![
            (
                prop::collection::vec(inner.clone(), 1..3),
                istring(),
                prop::option::of(
                    (params(), ext_tail())
                        .prop_map(|(params, tail)| MultiPartExtension { params, tail })
                )
            )
                .prop_map(|(parts, subtype, extension)| BodyStructure::Multi {
                    parts,
                    subtype,
                    extension
                }),
            (
                basic_fields(message_media),
                envelope(),
                inner,
                any::<u32>(),
                single_ext()
            )
                .prop_map(|(basic, envelope, body, lines, extension)| {
                    BodyStructure::Single {
                        basic,
                        specific: SpecificFields::Message {
                            envelope: Box::new(envelope),
                            body: Box::new(body),
                            lines,
                        },
                        extension,
                    }
                }),
        ]
    })
    .boxed()
}

// ---------------------------------------------------------------------------- P-IMAP values

fn pref_value() -> BoxedStrategy<PrefValue> {
    prop_oneof![istring().prop_map(PrefValue::String), Just(PrefValue::Nil)]
        .prop_recursive(2, 8, 3, |inner| {
            prop::collection::vec(inner, 0..3).prop_map(PrefValue::List)
        })
        .boxed()
}

fn pref_name() -> BoxedStrategy<PrefName> {
    prop_oneof![
        prop::sample::select(vec![
            PrefName::OutbandAddress,
            PrefName::OutbandChannel,
            PrefName::InbandNewFormat,
            PrefName::InbandPush,
            PrefName::OutbandFormat,
            PrefName::EventFilter,
            PrefName::XFilter,
            PrefName::OutbandNewFormat,
            PrefName::OutbandTypeSms,
            PrefName::OutbandTypeJms,
        ]),
        named("L_").prop_map(PrefName::Other),
    ]
    .boxed()
}

fn folder_selector() -> BoxedStrategy<FolderSelector> {
    prop_oneof![1 => Just(FolderSelector::All), 3 => mailbox().prop_map(FolderSelector::Mailbox)]
        .boxed()
}

fn filter_type() -> BoxedStrategy<FilterType> {
    prop::sample::select(vec![
        FilterType::View,
        FilterType::Notification,
        FilterType::Both,
    ])
    .boxed()
}

fn new_format() -> BoxedStrategy<NewFormat> {
    prop_oneof![
        Just(NewFormat::None),
        fetch_items().prop_map(NewFormat::Fetch)
    ]
    .boxed()
}

fn pref_setting() -> BoxedStrategy<PrefSetting> {
    prop_oneof![
        istring().prop_map(PrefSetting::OutbandAddress),
        prop_oneof![
            prop::sample::select(vec![
                Channel::Sms,
                Channel::GsmSms,
                Channel::WapPush,
                Channel::WapWdp,
                Channel::Mms,
                Channel::Udp,
                Channel::Sip,
                Channel::Jms,
                Channel::None,
            ]),
            named("X").prop_map(Channel::Other),
        ]
        .prop_map(PrefSetting::OutbandChannel),
        new_format().prop_map(PrefSetting::InbandNewFormat),
        any::<bool>().prop_map(PrefSetting::InbandPush),
        prop::sample::select(vec![OutbandFormat::Emn, OutbandFormat::Extended])
            .prop_map(PrefSetting::OutbandFormat),
        prop::sample::select(vec![EventFilter::All, EventFilter::None, EventFilter::New])
            .prop_map(PrefSetting::EventFilter),
        (folder_selector(), filter_type(), named("F")).prop_map(|(folder, filter_type, name)| {
            PrefSetting::XFilter(XFilterActivation {
                folder,
                filter_type,
                name,
            })
        }),
        new_format().prop_map(PrefSetting::OutbandNewFormat),
        istring().prop_map(PrefSetting::OutbandTypeSms),
        istring().prop_map(PrefSetting::OutbandTypeJms),
        (named("L_"), pref_value()).prop_map(|(name, value)| PrefSetting::Other { name, value }),
    ]
    .boxed()
}

fn xfilter_command() -> BoxedStrategy<XFilterCommand> {
    let charset = prop::option::of(istring());
    prop_oneof![
        (charset.clone(), named("F"), any::<bool>(), any::<bool>()).prop_map(
            |(charset, name, desc, criteria)| XFilterCommand::Get {
                charset,
                name,
                desc,
                criteria
            }
        ),
        (charset, named("F"), istring(), criteria()).prop_map(
            |(charset, name, description, criteria)| XFilterCommand::Set {
                charset,
                name,
                description,
                criteria
            }
        ),
        (folder_selector(), filter_type()).prop_map(|(folder, filter_type)| {
            XFilterCommand::LegacyGet {
                folder,
                filter_type,
            }
        }),
        (folder_selector(), filter_type(), criteria()).prop_map(
            |(folder, filter_type, criteria)| XFilterCommand::LegacySet {
                folder,
                filter_type,
                criteria
            }
        ),
    ]
    .boxed()
}

fn original() -> BoxedStrategy<OriginalMessage> {
    (
        prop::option::of((mailbox(), prop::option::of(any::<u32>()))),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(f, uid, attachments)| {
            let (folder, uid_validity) = match f {
                Some((m, v)) => (Some(m), v),
                None => (None, None),
            };
            OriginalMessage {
                folder,
                uid_validity,
                uid,
                attachments,
            }
        })
        .boxed()
}

fn xdeliver_command() -> BoxedStrategy<XDeliverCommand> {
    let kind = prop_oneof![
        Just(DeliverKind::New),
        original().prop_map(DeliverKind::Reply),
        original().prop_map(DeliverKind::Forward),
    ];
    prop_oneof![
        (
            kind,
            prop::option::of(mailbox()),
            prop::option::of(addresses()),
            literal8()
        )
            .prop_map(
                |(kind, save_to, envelope, message)| XDeliverCommand::Classic {
                    kind,
                    save_to,
                    envelope,
                    message
                }
            ),
        Just(XDeliverCommand::Capability),
        literal8().prop_map(XDeliverCommand::Text),
    ]
    .boxed()
}

fn xconvert_command() -> BoxedStrategy<XConvertCommand> {
    let media = (
        bytes_from(b"abcxyz", 1..6),
        bytes_from(b"abcxyz019.+-", 1..8),
    )
        .prop_map(|(t, s)| {
            let mut v = t;
            v.push(b'/');
            v.extend(s);
            IString::new(v).unwrap()
        });
    let param = (
        bytes_from(b"abcxyz-", 1..6).prop_map(|b| IString::new(b).unwrap()),
        bytes_from(b"abcXYZ019 \";\\=-./\x99", 0..8).prop_map(|b| IString::new(b).unwrap()),
    );
    (
        (0u8..3, nz(), any::<bool>(), any::<bool>()),
        (
            prop::collection::vec(nz_small(), 1..3),
            partial(),
            media,
            prop::collection::vec(param, 0..3),
        ),
    )
        .prop_map(
            |((u, id, body_form, peek), (part, partial, media_type, params))| XConvertCommand {
                uid: u > 0,
                xuid_name: u == 2,
                id,
                body_form,
                peek: peek && body_form,
                part,
                partial: partial.filter(|_| body_form),
                media_type,
                params,
            },
        )
        .boxed()
}

fn compose_part() -> BoxedStrategy<ComposePart> {
    prop_oneof![
        literal8().prop_map(ComposePart::Text),
        literal8().prop_map(ComposePart::SText),
        (istring(), literal8()).prop_map(|(url, delta)| ComposePart::DText { url, delta }),
        istring().prop_map(ComposePart::Url),
    ]
    .boxed()
}

fn xmacro_command() -> BoxedStrategy<XMacroCommand> {
    prop_oneof![
        (named("M"), prop::collection::vec(istring(), 1..4))
            .prop_map(|(name, templates)| XMacroCommand::Define { name, templates }),
        (named("M"), prop::collection::vec(istring(), 0..10))
            .prop_map(|(name, args)| XMacroCommand::Run { name, args }),
        named("M").prop_map(|name| XMacroCommand::Delete { name }),
        Just(XMacroCommand::List),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------- commands

fn status_attr() -> BoxedStrategy<StatusAttr> {
    prop_oneof![
        prop::sample::select(vec![
            StatusAttr::Messages,
            StatusAttr::Recent,
            StatusAttr::UidNext,
            StatusAttr::UidValidity,
            StatusAttr::Unseen,
            StatusAttr::HighestModSeq,
            StatusAttr::Size,
            StatusAttr::MonoIncUid,
        ]),
        named("X-").prop_map(StatusAttr::Other),
    ]
    .boxed()
}

fn select_param() -> BoxedStrategy<SelectParam> {
    prop_oneof![
        Just(SelectParam::CondStore),
        (
            nz(),
            any::<u64>(),
            prop::option::of(seq_set()),
            prop::option::of((seq_set(), seq_set()))
        )
            .prop_map(|(uid_validity, modseq, known_uids, seq_match)| {
                SelectParam::QResync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                }
            }),
    ]
    .boxed()
}

fn mechanism() -> BoxedStrategy<Atom> {
    prop_oneof![
        prop::sample::select(vec!["PLAIN", "XOAUTH2", "DEFLATE"])
            .prop_map(|s| Atom::try_from(s).unwrap()),
        atom(),
    ]
    .boxed()
}

type IdParams = Option<Vec<(IString, NString)>>;

fn id_params() -> BoxedStrategy<IdParams> {
    prop::option::of(prop::collection::vec((istring(), nstring()), 0..3)).boxed()
}

/// Command bodies without XZIP (the inner command of `XZIP` is one of these).
fn simple_body() -> BoxedStrategy<CommandBody> {
    use CommandBody as C;
    prop_oneof![
        prop::sample::select(vec![
            C::Capability,
            C::Noop,
            C::Logout,
            C::StartTls,
            C::Idle,
            C::Namespace,
            C::Check,
            C::Close,
            C::Unselect,
            C::Expunge,
        ]),
        (mechanism(), prop::option::of(bytes_from(B64, 1..12))).prop_map(|(mechanism, ir)| {
            C::Authenticate {
                mechanism,
                initial_response: ir.map(|b| Secret::new(Bytes::from(b))),
            }
        }),
        (istring(), istring()).prop_map(|(username, p)| C::Login {
            username,
            password: Secret::new(p)
        }),
        (mailbox(), prop::collection::vec(select_param(), 0..3))
            .prop_map(|(mailbox, params)| C::Select { mailbox, params }),
        (mailbox(), prop::collection::vec(select_param(), 0..3))
            .prop_map(|(mailbox, params)| C::Examine { mailbox, params }),
        mailbox().prop_map(|mailbox| C::Create { mailbox }),
        mailbox().prop_map(|mailbox| C::Delete { mailbox }),
        (mailbox(), mailbox()).prop_map(|(from, to)| C::Rename { from, to }),
        mailbox().prop_map(|mailbox| C::Subscribe { mailbox }),
        mailbox().prop_map(|mailbox| C::Unsubscribe { mailbox }),
        (
            prop::collection::vec(atom(), 0..3),
            mailbox(),
            prop::collection::vec(istring(), 1..3),
            prop::collection::vec(
                prop_oneof![
                    named("X-").prop_map(ListReturn::Option),
                    prop::collection::vec(status_attr(), 1..3).prop_map(ListReturn::Status),
                ],
                0..3
            )
        )
            .prop_map(|(selection, reference, patterns, return_opts)| C::List {
                selection,
                reference,
                patterns,
                return_opts
            }),
        (mailbox(), istring()).prop_map(|(reference, pattern)| C::Lsub { reference, pattern }),
        (mailbox(), prop::collection::vec(status_attr(), 1..4))
            .prop_map(|(mailbox, items)| C::Status { mailbox, items }),
        (
            mailbox(),
            flags(false),
            prop::option::of(date_time()),
            literal8()
        )
            .prop_map(|(mailbox, flags, date, message)| C::Append {
                mailbox,
                flags,
                date,
                message
            }),
        (
            mailbox(),
            flags(false),
            prop::option::of(date_time()),
            prop::collection::vec(compose_part(), 1..4)
        )
            .prop_map(|(mailbox, flags, date, parts)| C::AppendCompose {
                mailbox,
                flags,
                date,
                parts
            }),
        prop::collection::vec(capability().prop_map(|c| c.0), 1..3).prop_map(C::Enable),
        id_params().prop_map(C::Id),
        mechanism().prop_map(|mechanism| C::Compress { mechanism }),
        seq_set().prop_map(C::UidExpunge),
        (
            any::<bool>(),
            return_opts(),
            prop::option::of(istring()),
            criteria()
        )
            .prop_map(|(uid, return_opts, charset, criteria)| C::Search {
                uid,
                return_opts,
                charset,
                criteria
            }),
        (
            any::<bool>(),
            seq_set(),
            fetch_items(),
            prop::collection::vec(
                prop_oneof![
                    any::<u64>().prop_map(FetchModifier::ChangedSince),
                    Just(FetchModifier::Vanished)
                ],
                0..3
            )
        )
            .prop_map(|(uid, set, items, modifiers)| C::Fetch {
                uid,
                set,
                items,
                modifiers
            }),
        (
            (any::<bool>(), seq_set(), prop::option::of(any::<u64>())),
            (
                prop::sample::select(vec![StoreKind::Replace, StoreKind::Add, StoreKind::Remove]),
                any::<bool>(),
                flags(false)
            )
        )
            .prop_map(
                |((uid, set, unchanged_since), (kind, silent, flags))| C::Store {
                    uid,
                    set,
                    unchanged_since,
                    kind,
                    silent,
                    flags
                }
            ),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Copy {
            uid,
            set,
            mailbox
        }),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Move {
            uid,
            set,
            mailbox
        }),
        prop::option::of((istring(), prop::option::of(istring()))).prop_map(|ids| {
            let (device_id, notif_id) = match ids {
                Some((d, n)) => (Some(d), n),
                None => (None, None),
            };
            C::XProvision {
                device_id,
                notif_id,
            }
        }),
        pref_setting().prop_map(|setting| C::XSetPimapPref {
            name: PrefCommandName::Current,
            setting
        }),
        (
            prop::sample::select(vec![PrefCommandName::Current, PrefCommandName::Draft01]),
            prop::collection::vec(pref_name(), 1..4)
        )
            .prop_map(|(name, prefs)| C::XGetPimapPrefs { name, prefs }),
        xfilter_command().prop_map(C::XFilter),
        any::<bool>().prop_map(C::XTerse),
        xdeliver_command().prop_map(C::XDeliver),
        xconvert_command().prop_map(C::XConvert),
        (mailbox(), prop::option::of(istring()), criteria()).prop_map(
            |(mailbox, charset, criteria)| C::XPSearch {
                mailbox,
                charset,
                criteria
            }
        ),
        xmacro_command().prop_map(C::XMacro),
    ]
    .boxed()
}

fn return_opts() -> BoxedStrategy<Option<Vec<SearchReturnOpt>>> {
    let opt = prop_oneof![
        prop::sample::select(vec![
            SearchReturnOpt::Min,
            SearchReturnOpt::Max,
            SearchReturnOpt::All,
            SearchReturnOpt::Count,
            SearchReturnOpt::Save,
        ]),
        (
            named("X-"),
            prop::option::of(prop::sample::select(vec!["1:100", "-1:-5", "(1 2)", "7"]))
        )
            .prop_map(|(name, value)| SearchReturnOpt::Other {
                name,
                value: value.map(|v| Bytes::from_static(v.as_bytes()))
            }),
    ];
    prop::option::of(prop::collection::vec(opt, 0..4)).boxed()
}

fn thread() -> BoxedStrategy<Thread> {
    let leaf = prop::collection::vec(nz(), 1..4).prop_map(Thread::chain);
    leaf.prop_recursive(4, 24, 3, |inner| {
        (
            prop::collection::vec(nz(), 0..3),
            prop::collection::vec(inner, 2..4),
        )
            .prop_map(|(messages, children)| Thread { messages, children })
    })
    .boxed()
}

fn notify_command() -> BoxedStrategy<NotifyCommand> {
    let mailboxes = prop_oneof![
        prop::sample::select(vec![
            NotifyMailboxes::Selected,
            NotifyMailboxes::SelectedDelayed,
            NotifyMailboxes::Inboxes,
            NotifyMailboxes::Personal,
            NotifyMailboxes::Subscribed,
        ]),
        prop::collection::vec(mailbox(), 1..3).prop_map(NotifyMailboxes::Subtree),
        prop::collection::vec(mailbox(), 1..3).prop_map(NotifyMailboxes::Mailboxes),
    ];
    let event = prop_oneof![
        prop::sample::select(vec![
            NotifyEvent::MessageExpunge,
            NotifyEvent::FlagChange,
            NotifyEvent::AnnotationChange,
            NotifyEvent::MailboxName,
            NotifyEvent::SubscriptionChange,
            NotifyEvent::MailboxMetadataChange,
            NotifyEvent::ServerMetadataChange,
        ]),
        prop::collection::vec(fetch_attr(), 0..3).prop_map(NotifyEvent::MessageNew),
        named("X").prop_map(NotifyEvent::Other),
    ];
    let group = (mailboxes, prop::collection::vec(event, 0..3))
        .prop_map(|(mailboxes, events)| NotifyGroup { mailboxes, events });
    prop_oneof![
        Just(NotifyCommand::None),
        (any::<bool>(), prop::collection::vec(group, 1..3))
            .prop_map(|(status, groups)| NotifyCommand::Set { status, groups }),
    ]
    .boxed()
}

/// Commands of the extensions (SORT, THREAD, NOTIFY, MULTIAPPEND, CATENATE) and the
/// fallback.
fn extension_body() -> BoxedStrategy<CommandBody> {
    use CommandBody as C;
    let sort_key = (
        any::<bool>(),
        prop_oneof![
            prop::sample::select(vec![
                SortCriterion::Arrival,
                SortCriterion::Cc,
                SortCriterion::Date,
                SortCriterion::From,
                SortCriterion::Size,
                SortCriterion::Subject,
                SortCriterion::To,
                SortCriterion::DisplayFrom,
                SortCriterion::DisplayTo,
            ]),
            named("X").prop_map(SortCriterion::Other),
        ],
    )
        .prop_map(|(reverse, criterion)| SortKey { reverse, criterion });
    let algorithm = prop_oneof![
        Just(ThreadAlgorithm::OrderedSubject),
        Just(ThreadAlgorithm::References),
        named("X").prop_map(ThreadAlgorithm::Other),
    ];
    let content = prop_oneof![
        literal8().prop_map(AppendContent::Literal),
        prop::collection::vec(
            prop_oneof![
                literal8().prop_map(CatenatePart::Text),
                istring().prop_map(CatenatePart::Url),
            ],
            1..3
        )
        .prop_map(AppendContent::Catenate),
    ];
    let message = (flags(false), prop::option::of(date_time()), content).prop_map(
        |(flags, date, content)| AppendMessage {
            flags,
            date,
            content,
        },
    );
    prop_oneof![
        (
            any::<bool>(),
            return_opts(),
            prop::collection::vec(sort_key, 1..4),
            istring(),
            criteria()
        )
            .prop_map(|(uid, return_opts, criteria, charset, search)| C::Sort {
                uid,
                return_opts,
                criteria,
                charset,
                search
            }),
        (any::<bool>(), algorithm, istring(), criteria()).prop_map(
            |(uid, algorithm, charset, search)| C::Thread {
                uid,
                algorithm,
                charset,
                search
            }
        ),
        notify_command().prop_map(C::Notify),
        (mailbox(), prop::collection::vec(message, 1..4))
            .prop_filter("not a plain single APPEND", |(_, m)| {
                m.len() > 1 || !matches!(m[0].content, AppendContent::Literal(_))
            })
            .prop_map(|(mailbox, messages)| C::AppendMulti { mailbox, messages }),
        (
            named("XQ-"),
            prop::option::of(prop::sample::select(vec![
                "1:* (a \"b c\") [x y]",
                "{3}\r\nabc (more)",
                "~{2}\r\n\0\x01 tail",
                "1 {5+}\r\nhello {0}\r\n",
                "BODY[HEADER.FIELDS (A B)]<0.10> %",
            ]))
        )
            .prop_map(|(name, args)| C::Other {
                name,
                args: args.map(|a| Bytes::from_static(a.as_bytes()))
            }),
    ]
    .boxed()
}

fn command() -> BoxedStrategy<Command> {
    let body = prop_oneof![
        12 => simple_body(),
        3 => extension_body(),
        1 => (tag(), simple_body())
            .prop_map(|(t, b)| CommandBody::XZip(XZipCommand::Wrapped(Box::new(Command::new(t, b))))),
        1 => literal8().prop_map(|l| CommandBody::XZip(XZipCommand::Inline(l))),
    ];
    (tag(), body)
        .prop_map(|(tag, body)| Command::new(tag, body))
        .boxed()
}

fn client_message() -> BoxedStrategy<ClientMessage> {
    prop_oneof![8 => command().prop_map(ClientMessage::Command), 1 => Just(ClientMessage::Done)]
        .boxed()
}

// ---------------------------------------------------------------------------- responses

fn code() -> BoxedStrategy<Code> {
    prop_oneof![
        prop::sample::select(vec![
            Code::Alert,
            Code::Parse,
            Code::ReadOnly,
            Code::ReadWrite,
            Code::TryCreate,
            Code::UidNotSticky,
            Code::NoModSeq,
            Code::Closed,
            Code::CompressionActive,
            Code::MonoIncUid,
            Code::InformationLoss,
            Code::ServerOverride,
        ]),
        prop::sample::select(vec![
            Code::Unavailable,
            Code::AuthenticationFailed,
            Code::AuthorizationFailed,
            Code::Expired,
            Code::PrivacyRequired,
            Code::ContactAdmin,
            Code::NoPerm,
            Code::InUse,
            Code::ExpungeIssued,
            Code::Corruption,
            Code::ServerBug,
            Code::ClientBug,
            Code::Cannot,
            Code::Limit,
            Code::OverQuota,
            Code::AlreadyExists,
            Code::Nonexistent,
            Code::NotSaved,
            Code::NotificationOverflow,
            Code::TooBig,
        ]),
        bytes_from(b"/;=abcINBOX019", 1..12).prop_map(|u| Code::BadUrl(Bytes::from(u))),
        prop::collection::vec(named("X"), 1..3).prop_map(Code::BadEvent),
        prop::collection::vec(istring(), 0..3).prop_map(Code::BadCharset),
        prop::collection::vec(capability(), 1..4).prop_map(Code::Capability),
        flags(true).prop_map(Code::PermanentFlags),
        nz().prop_map(Code::UidNext),
        nz().prop_map(Code::UidValidity),
        nz().prop_map(Code::Unseen),
        (nz(), seq_set()).prop_map(|(uid_validity, uids)| Code::AppendUid { uid_validity, uids }),
        (nz(), seq_set(), seq_set()).prop_map(|(uid_validity, source, destination)| {
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            }
        }),
        any::<u64>().prop_map(Code::HighestModSeq),
        seq_set().prop_map(Code::Modified),
        prop::collection::vec(istring(), 0..3).prop_map(Code::BadParameters),
        any::<u32>().prop_map(Code::XMacroFailed),
        (
            named("X-"),
            prop::option::of(bytes_from(b"abc 019()\"", 0..10).prop_map(Bytes::from))
        )
            .prop_map(|(name, args)| Code::Other { name, args }),
    ]
    .boxed()
}

fn status_response() -> BoxedStrategy<StatusResponse> {
    let tagged = (
        tag(),
        prop::sample::select(vec![Status::Ok, Status::No, Status::Bad]),
    )
        .prop_map(|(t, s)| (Some(t), s));
    let untagged = prop::sample::select(vec![
        Status::Ok,
        Status::No,
        Status::Bad,
        Status::PreAuth,
        Status::Bye,
    ])
    .prop_map(|s| (None, s));
    (
        prop_oneof![tagged, untagged],
        prop::option::of(code()),
        text(),
    )
        .prop_map(|((tag, status), code, text)| StatusResponse {
            tag,
            status,
            code,
            text,
        })
        .boxed()
}

fn fetch_item() -> BoxedStrategy<FetchItem> {
    prop_oneof![
        nstring().prop_map(FetchItem::Preview),
        prop::option::of(date_time()).prop_map(FetchItem::SaveDate),
        flags(true).prop_map(FetchItem::Flags),
        envelope().prop_map(|e| FetchItem::Envelope(Box::new(e))),
        date_time().prop_map(FetchItem::InternalDate),
        nstring().prop_map(FetchItem::Rfc822),
        nstring().prop_map(FetchItem::Rfc822Header),
        nstring().prop_map(FetchItem::Rfc822Text),
        any::<u32>().prop_map(FetchItem::Rfc822Size),
        body().prop_map(|b| FetchItem::Body(Box::new(b))),
        body().prop_map(|b| FetchItem::BodyStructure(Box::new(b))),
        (section(), prop::option::of(any::<u32>()), nstring()).prop_map(
            |(section, origin, data)| FetchItem::BodySection {
                section,
                origin,
                data
            }
        ),
        (
            section(),
            prop::option::of(any::<u32>()),
            prop::option::of(any_bytes())
        )
            .prop_map(|(section, origin, data)| FetchItem::Binary {
                section,
                origin,
                data
            }),
        (section(), any::<u32>())
            .prop_map(|(section, size)| FetchItem::BinarySize { section, size }),
        nz().prop_map(FetchItem::Uid),
        any::<u64>().prop_map(FetchItem::ModSeq),
        (section(), body()).prop_map(|(section, body)| FetchItem::BodyPartStructure {
            section,
            body: Box::new(body)
        }),
        (
            part(),
            prop::option::of(any::<u32>()),
            prop::option::of(any_bytes())
        )
            .prop_map(|(part, origin, data)| FetchItem::XZip { part, origin, data }),
        (part(), any::<u32>()).prop_map(|(part, size)| FetchItem::XZipSize { part, size }),
        prop::sample::select(vec![
            &b"X-GM-LABELS (\\Inbox \"a b\")"[..],
            b"X-GM-MSGID 123",
            b"X-FOO NIL"
        ])
        .prop_map(|r| FetchItem::Other {
            raw: Bytes::from_static(r)
        }),
    ]
    .boxed()
}

fn list_entry() -> BoxedStrategy<ListEntry> {
    (
        flags(true),
        prop::sample::select(vec![Some(b'/'), Some(b'.'), Some(b'"'), Some(b'\\'), None]),
        mailbox(),
        prop::sample::select(vec![
            None,
            Some(&b"(\"CHILDINFO\" (\"SUBSCRIBED\"))"[..]),
            Some(b"(\"OLDNAME\" (foo))"),
        ]),
    )
        .prop_map(|(attributes, delimiter, mailbox, extended)| ListEntry {
            attributes,
            delimiter,
            mailbox,
            extended: extended.map(Bytes::from_static),
        })
        .boxed()
}

fn namespaces() -> BoxedStrategy<Vec<NamespaceEntry>> {
    prop::collection::vec(
        (
            istring(),
            prop::sample::select(vec![Some(b'/'), Some(b'.'), Some(b'\\'), None]),
            prop::sample::select(vec![None, Some(&b"\"X-PARAM\" (\"a\" \"b\")"[..])]),
        )
            .prop_map(|(prefix, delimiter, ext)| NamespaceEntry {
                prefix,
                delimiter,
                extensions: ext.map(Bytes::from_static),
            }),
        0..3,
    )
    .boxed()
}

fn provision_item() -> BoxedStrategy<ProvisionItem> {
    let values = || prop::collection::vec(istring(), 0..3);
    prop_oneof![
        (pref_name(), values())
            .prop_map(|(name, values)| ProvisionItem::PrefValues { name, values }),
        values().prop_map(ProvisionItem::FilterCriteria),
        values().prop_map(ProvisionItem::FilterGet),
        values().prop_map(ProvisionItem::FilterSet),
        istring().prop_map(ProvisionItem::NotificationAddress),
        istring().prop_map(ProvisionItem::NotificationPort),
        istring().prop_map(ProvisionItem::UdpHost),
        istring().prop_map(ProvisionItem::UdpPort),
        (istring(), any::<bool>()).prop_map(|(k, legacy)| ProvisionItem::EncKey {
            key: Secret::new(k),
            legacy
        }),
        (
            prop_oneof![
                named("X_"),
                Just(Atom::try_from("PIMAP_NOTIFICATION").unwrap())
            ],
            prop::collection::vec(pref_value(), 0..3)
        )
            .prop_map(|(name, values)| ProvisionItem::Other { name, values }),
    ]
    .boxed()
}

fn xfilter_response() -> BoxedStrategy<XFilterResponse> {
    prop_oneof![
        (
            named("F"),
            prop::option::of(istring()),
            prop::option::of(criteria())
        )
            .prop_map(|(name, description, criteria)| XFilterResponse::Named {
                name,
                description,
                criteria
            }),
        (mailbox(), filter_type(), criteria()).prop_map(|(folder, filter_type, criteria)| {
            XFilterResponse::Folder {
                folder,
                filter_type,
                criteria,
            }
        }),
    ]
    .boxed()
}

fn esearch() -> BoxedStrategy<ESearch> {
    let item = prop_oneof![
        nz().prop_map(ESearchItem::Min),
        nz().prop_map(ESearchItem::Max),
        seq_set().prop_map(ESearchItem::All),
        any::<u32>().prop_map(ESearchItem::Count),
        any::<u64>().prop_map(ESearchItem::ModSeq),
        (named("X-"), prop::sample::select(vec!["1:5", "(a b)", "9"])).prop_map(|(name, value)| {
            ESearchItem::Other {
                name,
                value: Bytes::from_static(value.as_bytes()),
            }
        }),
    ];
    (
        prop::option::of(istring()),
        any::<bool>(),
        prop::collection::vec(item, 0..4),
    )
        .prop_map(|(tag, uid, items)| ESearch { tag, uid, items })
        .boxed()
}

fn data() -> BoxedStrategy<Data> {
    prop_oneof![
        esearch().prop_map(Data::ESearch),
        (
            prop::collection::vec(nz(), 0..5),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(ids, modseq)| Data::Sort { ids, modseq }),
        prop::collection::vec(thread(), 0..3).prop_map(Data::Thread),
        prop::collection::vec(capability(), 1..4).prop_map(Data::Capability),
        list_entry().prop_map(Data::List),
        list_entry().prop_map(Data::Lsub),
        (
            mailbox(),
            prop::collection::vec((status_attr(), any::<u64>()), 0..4)
        )
            .prop_map(|(mailbox, items)| Data::Status { mailbox, items }),
        (
            prop::collection::vec(nz(), 0..5),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(ids, modseq)| Data::Search { ids, modseq }),
        flags(true).prop_map(Data::Flags),
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        any::<u32>().prop_map(Data::Expunge),
        (any::<u32>(), prop::collection::vec(fetch_item(), 1..4))
            .prop_map(|(seq, items)| Data::Fetch { seq, items }),
        (any::<bool>(), seq_set()).prop_map(|(earlier, uids)| Data::Vanished { earlier, uids }),
        prop::collection::vec(atom(), 0..3).prop_map(Data::Enabled),
        id_params().prop_map(Data::Id),
        (namespaces(), namespaces(), namespaces()).prop_map(|(personal, other, shared)| {
            Data::Namespace {
                personal,
                other,
                shared,
            }
        }),
        prop::sample::select(vec![SessionState::Authenticated, SessionState::Selected])
            .prop_map(Data::Session),
        mailbox().prop_map(Data::Folder),
        Just(Data::Resync),
        bytes_from(b"AZaz09-_", 1..10)
            .prop_map(|b| Data::SessionId(Secret::new(Atom::new(b).unwrap()))),
        text().prop_map(Data::LoginSevered),
        provision_item().prop_map(Data::XProvision),
        (
            prop::sample::select(vec![PrefCommandName::Current, PrefCommandName::Draft01]),
            prop::collection::vec((pref_name(), pref_value()), 0..3)
        )
            .prop_map(|(name, prefs)| Data::XGetPimapPrefs { name, prefs }),
        xfilter_response().prop_map(Data::XFilter),
        (
            prop::sample::select(vec![XZipFraming::Bare, XZipFraming::XZip]),
            any_bytes()
        )
            .prop_map(|(framing, data)| Data::XZip { framing, data }),
        (part(), any_bytes()).prop_map(|(part, data)| Data::XZipPart { part, data }),
        prop::collection::vec(istring(), 0..3).prop_map(Data::XDeliverCapability),
        literal8().prop_map(Data::XDeliverTranscript),
        (
            any::<u32>(),
            prop_oneof![
                (
                    prop::option::of(nz()),
                    section(),
                    body(),
                    prop::option::of(any::<u32>()),
                    any_bytes()
                )
                    .prop_map(|(uid, section, body, origin, data)| {
                        XConvertData::Items {
                            uid,
                            section,
                            body: Box::new(body),
                            origin,
                            data,
                        }
                    }),
                bytes_from(b"abcXYZ019 .-", 0..12)
                    .prop_filter("starts with a letter", |b| b
                        .first()
                        .is_some_and(|c| c.is_ascii_alphabetic()))
                    .prop_map(|b| XConvertData::Raw(Bytes::from(b))),
                literal8().prop_map(XConvertData::Literal),
            ]
        )
            .prop_map(|(seq, data)| Data::XConvert { seq, data }),
        any_bytes().prop_map(Data::XEncrypted),
        (named("M"), prop::collection::vec(istring(), 1..4))
            .prop_map(|(name, templates)| Data::XMacro(XMacroListing { name, templates })),
        prop::sample::select(vec![
            &b"X-FOO bar (baz 1)"[..],
            b"QUOTA \"\" (STORAGE 10 512)",
            b"X-BAR {3}\r\nabc"
        ])
        .prop_map(|r| Data::Other {
            raw: Bytes::from_static(r)
        }),
    ]
    .boxed()
}

fn response() -> BoxedStrategy<Response> {
    prop_oneof![
        3 => status_response().prop_map(Response::Status),
        6 => data().prop_map(Response::Data),
        1 => (prop::option::of(code()), text())
            .prop_map(|(code, text)| Response::Continuation(Continuation { code, text })),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------- helpers

fn decode_commands(chunks: &[&[u8]]) -> Vec<ClientMessage> {
    let mut d = CommandDecoder::default();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        loop {
            match d.next() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => panic!("decode error: {e}"),
            }
        }
    }
    assert_eq!(d.buffered_len(), 0, "bytes left over");
    out
}

fn decode_responses(chunks: &[&[u8]]) -> Vec<Response> {
    let mut d = ResponseDecoder::default();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        loop {
            match d.next() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => panic!("decode error: {e}"),
            }
        }
    }
    assert_eq!(d.buffered_len(), 0, "bytes left over");
    out
}

/// Cut `wire` into pieces of the given sizes (cycled).
fn pieces<'a>(wire: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
        i += 1;
    }
    out
}

fn concat_fragments(f: &[Fragment]) -> Vec<u8> {
    let mut v = Vec::new();
    for f in f {
        match f {
            Fragment::Line(b) => v.extend_from_slice(b),
            Fragment::Literal { data, .. } => v.extend_from_slice(data),
        }
    }
    v
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn piece_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![3 => Just(1usize), 5 => 1usize..8, 2 => 8usize..200],
        1..8,
    )
}

// ---------------------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn command_roundtrip(cmd in command()) {
        let wire = cmd.to_bytes(Dialect::Draft08);
        let got = decode_commands(&[&wire]);
        prop_assert_eq!(got, vec![ClientMessage::Command(cmd)], "wire: {:?}", show(&wire));
    }

    #[test]
    fn response_roundtrip(resp in response()) {
        let wire = resp.to_bytes(Dialect::Draft08);
        let got = decode_responses(&[&wire]);
        prop_assert_eq!(got, vec![resp], "wire: {:?}", show(&wire));
    }

    #[test]
    fn encoding_does_not_depend_on_dialect(cmd in command(), resp in response()) {
        prop_assert_eq!(cmd.to_bytes(Dialect::Draft08), cmd.to_bytes(Dialect::Draft01));
        prop_assert_eq!(resp.to_bytes(Dialect::Draft08), resp.to_bytes(Dialect::Draft01));
    }

    #[test]
    fn fragments_concatenate_to_the_encoding(cmd in command(), lp in any::<bool>()) {
        let opts = EncodeOptions { dialect: Dialect::Draft08, literal_plus: lp };
        let whole = cmd.to_bytes_with(opts);
        let frags = cmd.fragments(opts);
        prop_assert_eq!(concat_fragments(&frags), whole.to_vec());
        if lp {
            // LITERAL+ announcements decode to the same command.
            prop_assert_eq!(decode_commands(&[&whole]), vec![ClientMessage::Command(cmd)]);
        }
    }

    #[test]
    fn split_commands_decode_like_whole(msgs in prop::collection::vec(client_message(), 1..6), sizes in piece_sizes()) {
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend_from_slice(&m.to_bytes(Dialect::Draft08));
        }
        let whole = decode_commands(&[&wire]);
        prop_assert_eq!(&whole, &msgs);
        let split = decode_commands(&pieces(&wire, &sizes));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn split_responses_decode_like_whole(msgs in prop::collection::vec(response(), 1..6), sizes in piece_sizes()) {
        let mut out = bytes::BytesMut::new();
        for m in &msgs {
            m.encode_into(Dialect::Draft08, &mut out);
        }
        let wire = out.to_vec();
        let whole = decode_responses(&[&wire]);
        prop_assert_eq!(&whole, &msgs);
        let split = decode_responses(&pieces(&wire, &sizes));
        prop_assert_eq!(split, whole);
    }
}

// ---------------------------------------------------------------------------- fixed forms

fn cmd_wire(tag: &str, body: CommandBody) -> String {
    show(&Command::new(Tag::try_from(tag).unwrap(), body).to_bytes(Dialect::Draft08))
}

fn data_wire(d: Data) -> String {
    show(&Response::Data(d).to_bytes(Dialect::Draft08))
}

fn is(s: &str) -> IString {
    IString::try_from(s).unwrap()
}

fn mbx(s: &str) -> Mailbox {
    Mailbox::try_from(s).unwrap()
}

fn set(s: u32, e: Option<u32>) -> SequenceSet {
    match e {
        Some(e) => SequenceSet::range(s, e).unwrap(),
        None => SequenceSet::single(s).unwrap(),
    }
}

#[test]
fn canonical_command_forms() {
    use CommandBody as C;
    let date = Date::new(2003, 6, 1).unwrap();
    assert_eq!(
        cmd_wire(
            "a1",
            C::XFilter(XFilterCommand::LegacySet {
                folder: FolderSelector::Mailbox(Mailbox::inbox()),
                filter_type: FilterType::Notification,
                criteria: vec![SearchKey::Since(date), SearchKey::From(is("John"))],
            })
        ),
        "a1 XFILTER INBOX N SINCE 1-Jun-2003 FROM John\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a1",
            C::XFilter(XFilterCommand::LegacySet {
                folder: FolderSelector::All,
                filter_type: FilterType::Notification,
                criteria: vec![SearchKey::None],
            })
        ),
        "a1 XFILTER ALL N NONE\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a1",
            C::XFilter(XFilterCommand::LegacyGet {
                folder: FolderSelector::Mailbox(mbx("ALL")),
                filter_type: FilterType::View,
            })
        ),
        "a1 XFILTER \"ALL\" V GET\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a2",
            C::XFilter(XFilterCommand::Set {
                charset: Some(is("UTF-8")),
                name: Atom::try_from("PROFILE1").unwrap(),
                description: is("Today's messages only"),
                criteria: vec![SearchKey::DaysBeforeToday(0)],
            })
        ),
        "a2 XFILTER SET CHARSET UTF-8 PROFILE1 \"Today's messages only\" (DAYSBEFORETODAY 0)\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a2",
            C::XFilter(XFilterCommand::Get {
                charset: None,
                name: Atom::try_from("PROFILE1").unwrap(),
                desc: true,
                criteria: true
            })
        ),
        "a2 XFILTER GET PROFILE1 (DESC CRITERIA)\r\n"
    );
    let mooch = Address {
        name: Some(is("Mooch")),
        adl: None,
        mailbox: Some(is("mooch")),
        host: Some(is("owatagu.siam.edu")),
    };
    assert_eq!(
        cmd_wire(
            "a3",
            C::XDeliver(XDeliverCommand::Classic {
                kind: DeliverKind::New,
                save_to: Some(mbx("~/Sent")),
                envelope: Some(vec![mooch]),
                message: Literal8::text(&b"Hi"[..]).unwrap(),
            })
        ),
        "a3 XDELIVER N SAVETO=~/Sent ENVELOPE ((\"Mooch\" NIL \"mooch\" \"owatagu.siam.edu\")) {2}\r\nHi\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a3",
            C::XDeliver(XDeliverCommand::Classic {
                kind: DeliverKind::Reply(OriginalMessage {
                    folder: Some(mbx("n")),
                    uid_validity: Some(7),
                    uid: 140,
                    attachments: true
                }),
                save_to: None,
                envelope: Some(vec![]),
                message: Literal8::binary(&b"\0"[..]),
            })
        ),
        "a3 XDELIVER R \"n\" 7 140 Y ENVELOPE NIL ~{1}\r\n\0\r\n"
    );
    let conv = XConvertCommand {
        uid: true,
        xuid_name: false,
        id: 120,
        body_form: true,
        peek: true,
        part: vec![3],
        partial: Some(Partial {
            origin: 0,
            count: 100,
        }),
        media_type: is("text/plain"),
        params: vec![(is("charset"), is("us-ascii"))],
    };
    assert_eq!(
        cmd_wire("a4", C::XConvert(conv.clone())),
        "a4 UID XCONVERT 120 BODY.PEEK[3]<0.100> as text/plain;charset=us-ascii\r\n"
    );
    let bare = XConvertCommand {
        uid: false,
        body_form: false,
        peek: false,
        partial: None,
        params: vec![],
        media_type: is("application/pdf"),
        id: 2,
        ..conv
    };
    assert_eq!(
        cmd_wire("a4", C::XConvert(bare)),
        "a4 XCONVERT 2 3 as application/pdf\r\n"
    );
    let section = Section {
        part: vec![3],
        text: Some(SectionText::Convert(Box::new(ConvertSpec {
            strict: false,
            media: ConvertMedia::TypeSubtype(is("TEXT"), is("PLAIN")),
            params: vec![(is("CHARSET"), is("us-ascii"))],
        }))),
    };
    assert_eq!(
        cmd_wire(
            "a5",
            C::Fetch {
                uid: false,
                set: set(1, None),
                items: FetchItems::List(vec![FetchAttr::BodySection {
                    peek: false,
                    section,
                    partial: None
                }]),
                modifiers: vec![],
            }
        ),
        "a5 FETCH 1 BODY[3.XCONVERT (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\"))]\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a5",
            C::Fetch {
                uid: true,
                set: SequenceSet::all(),
                items: FetchItems::List(vec![FetchAttr::Macro(FetchMacro::All)]),
                modifiers: vec![FetchModifier::ChangedSince(5), FetchModifier::Vanished],
            }
        ),
        "a5 UID FETCH 1:* (ALL) (CHANGEDSINCE 5 VANISHED)\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a6",
            C::Store {
                uid: false,
                set: set(1, Some(3)),
                unchanged_since: Some(32),
                kind: StoreKind::Add,
                silent: true,
                flags: vec![Flag::Seen]
            }
        ),
        "a6 STORE 1:3 (UNCHANGEDSINCE 32) +FLAGS.SILENT (\\Seen)\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a7",
            C::Select {
                mailbox: mbx("inbox"),
                params: vec![SelectParam::QResync {
                    uid_validity: 1,
                    modseq: 32,
                    known_uids: Some(set(1, Some(40))),
                    seq_match: Some((set(1, Some(3)), set(5, Some(7)))),
                }],
            }
        ),
        "a7 SELECT INBOX (QRESYNC (1 32 1:40 (1:3 5:7)))\r\n"
    );
    assert_eq!(
        cmd_wire(
            "a8",
            C::List {
                selection: vec![Atom::try_from("SPECIAL-USE").unwrap()],
                reference: mbx(""),
                patterns: vec![is("*")],
                return_opts: vec![
                    ListReturn::Option(Atom::try_from("CHILDREN").unwrap()),
                    ListReturn::Status(vec![StatusAttr::Messages]),
                ],
            }
        ),
        "a8 LIST (SPECIAL-USE) \"\" * RETURN (CHILDREN STATUS (MESSAGES))\r\n"
    );
    let dt = DateTime::new(Date::new(1996, 7, 17).unwrap(), 2, 44, 25, -420).unwrap();
    assert_eq!(
        cmd_wire(
            "a9",
            C::Append {
                mailbox: Mailbox::inbox(),
                flags: vec![Flag::Seen],
                date: Some(dt),
                message: Literal8::text(&b"x"[..]).unwrap()
            }
        ),
        "a9 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx\r\n"
    );
    assert_eq!(
        cmd_wire(
            "b1",
            C::XZip(XZipCommand::Wrapped(Box::new(Command::new(
                Tag::try_from("b2").unwrap(),
                C::Noop
            ))))
        ),
        "b1 XZIP b2 NOOP\r\n"
    );
    assert_eq!(
        cmd_wire(
            "b1",
            C::XGetPimapPrefs {
                name: PrefCommandName::Draft01,
                prefs: vec![
                    PrefName::XFilter,
                    PrefName::Other(Atom::try_from("L_HTTP_TUNNEL").unwrap())
                ]
            }
        ),
        "b1 XGETPIMAPPREF (PIMAP_XFILTER L_HTTP_TUNNEL)\r\n"
    );
    assert_eq!(
        cmd_wire(
            "b2",
            C::XSetPimapPref {
                name: PrefCommandName::Current,
                setting: PrefSetting::XFilter(XFilterActivation {
                    folder: FolderSelector::Mailbox(Mailbox::inbox()),
                    filter_type: FilterType::View,
                    name: Atom::try_from("ALL").unwrap(),
                }),
            }
        ),
        "b2 XSETPIMAPPREF PIMAP_XFILTER (INBOX V ALL)\r\n"
    );
    assert_eq!(
        cmd_wire(
            "b3",
            C::XMacro(XMacroCommand::Define {
                name: Atom::try_from("m").unwrap(),
                templates: vec![is("SELECT $1"), is("FETCH 1:* FLAGS")]
            })
        ),
        "b3 XMACRO DEFINE m (\"SELECT $1\" \"FETCH 1:* FLAGS\")\r\n"
    );
    assert_eq!(cmd_wire("b4", C::Id(None)), "b4 ID NIL\r\n");
    assert_eq!(
        cmd_wire(
            "b4",
            C::Id(Some(vec![
                (is("name"), Some(is("x"))),
                (is("version"), None)
            ]))
        ),
        "b4 ID (\"name\" \"x\" \"version\" NIL)\r\n"
    );
    assert_eq!(
        show(&ClientMessage::Done.to_bytes(Dialect::Draft08)),
        "DONE\r\n"
    );
}

#[test]
fn canonical_response_forms() {
    let ok = |tag: Option<&str>, code: Option<Code>, text: &str| {
        show(
            &Response::Status(StatusResponse {
                tag: tag.map(|t| Tag::try_from(t).unwrap()),
                status: Status::Ok,
                code,
                text: Bytes::copy_from_slice(text.as_bytes()),
            })
            .to_bytes(Dialect::Draft08),
        )
    };
    assert_eq!(ok(Some("a1"), None, ""), "a1 OK\r\n");
    assert_eq!(
        ok(Some("a1"), Some(Code::ReadWrite), ""),
        "a1 OK [READ-WRITE]\r\n"
    );
    assert_eq!(
        ok(
            None,
            Some(Code::AppendUid {
                uid_validity: 1,
                uids: set(140, None)
            }),
            "done"
        ),
        "* OK [APPENDUID 1 140] done\r\n"
    );
    assert_eq!(
        ok(Some("a1"), Some(Code::XMacroFailed(2)), "x"),
        "a1 OK [XMACRO-FAILED 2] x\r\n"
    );
    assert_eq!(
        show(
            &Response::Continuation(Continuation {
                code: None,
                text: Bytes::from_static(b"go")
            })
            .to_bytes(Dialect::Draft08)
        ),
        "+ go\r\n"
    );
    assert_eq!(
        data_wire(Data::List(ListEntry {
            attributes: vec![Flag::Extension(Atom::try_from("HasNoChildren").unwrap())],
            delimiter: Some(b'/'),
            mailbox: Mailbox::inbox(),
            extended: None,
        })),
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
    );
    assert_eq!(
        data_wire(Data::Namespace {
            personal: vec![NamespaceEntry {
                prefix: is(""),
                delimiter: Some(b'/'),
                extensions: None
            }],
            other: vec![],
            shared: vec![]
        }),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
    );
    assert_eq!(
        data_wire(Data::Search {
            ids: vec![1, 2],
            modseq: Some(9)
        }),
        "* SEARCH 1 2 (MODSEQ 9)\r\n"
    );
    assert_eq!(
        data_wire(Data::Session(SessionState::Selected)),
        "* SESSION SELECTED\r\n"
    );
    assert_eq!(data_wire(Data::LoginSevered(Bytes::new())), "* LOGIN\r\n");
    assert_eq!(
        data_wire(Data::XGetPimapPrefs {
            name: PrefCommandName::Current,
            prefs: vec![
                (
                    PrefName::XFilter,
                    PrefValue::List(vec![
                        PrefValue::String(is("INBOX")),
                        PrefValue::String(is("V")),
                        PrefValue::String(is("ALL"))
                    ])
                ),
                (PrefName::OutbandChannel, PrefValue::String(is("SMS"))),
                (PrefName::OutbandAddress, PrefValue::String(is("nil"))),
            ],
        }),
        "* XGETPIMAPPREFS (PIMAP_XFILTER (INBOX V ALL) PIMAP_OUTBAND_CHANNEL SMS PIMAP_OUTBAND_ADDRESS \"nil\")\r\n"
    );
    assert_eq!(
        data_wire(Data::XFilter(XFilterResponse::Named {
            name: Atom::try_from("PROFILE1").unwrap(),
            description: Some(is("Today's messages only")),
            criteria: Some(vec![SearchKey::DaysBeforeToday(0)]),
        })),
        "* XFILTER PROFILE1 (DESC \"Today's messages only\" CRITERIA (DAYSBEFORETODAY 0))\r\n"
    );
    assert_eq!(
        data_wire(Data::XFilter(XFilterResponse::Folder {
            folder: Mailbox::inbox(),
            filter_type: FilterType::View,
            criteria: vec![SearchKey::All]
        })),
        "* XFILTER INBOX V ALL\r\n"
    );
    assert_eq!(
        data_wire(Data::XProvision(ProvisionItem::PrefValues {
            name: PrefName::InbandPush,
            values: vec![is("ON"), is("OFF")]
        })),
        "* XPROVISION XPIMAPPREF PIMAP_INBAND_PUSH (ON OFF)\r\n"
    );
    assert_eq!(
        data_wire(Data::XProvision(ProvisionItem::FilterSet(vec![]))),
        "* XPROVISION XFILTER_SET ()\r\n"
    );
    assert_eq!(
        data_wire(Data::XProvision(ProvisionItem::EncKey {
            key: Secret::new(is("k1")),
            legacy: false
        })),
        "* XPROVISION PIMAP_ENC_KEY (k1)\r\n"
    );
    assert_eq!(
        data_wire(Data::XProvision(ProvisionItem::EncKey {
            key: Secret::new(is("k1")),
            legacy: true
        })),
        "* XPROVISION ENC_KEY k1\r\n"
    );
    assert_eq!(
        data_wire(Data::XZip {
            framing: XZipFraming::XZip,
            data: Bytes::from_static(b"\0z")
        }),
        "* XZIP ~{2}\r\n\0z\r\n"
    );
    assert_eq!(
        data_wire(Data::XZip {
            framing: XZipFraming::Bare,
            data: Bytes::from_static(b"z")
        }),
        "* {1}\r\nz\r\n"
    );
    assert_eq!(
        data_wire(Data::XDeliverCapability(vec![is("x"), is("y")])),
        "* XDELIVER CAPABILITY (\"x\" \"y\")\r\n"
    );
    assert_eq!(
        data_wire(Data::Fetch {
            seq: 3,
            items: vec![FetchItem::ModSeq(7), FetchItem::Uid(9)]
        }),
        "* 3 FETCH (MODSEQ (7) UID 9)\r\n"
    );
    assert_eq!(
        data_wire(Data::Vanished {
            earlier: true,
            uids: set(1, Some(3))
        }),
        "* VANISHED (EARLIER) 1:3\r\n"
    );
}

#[test]
fn auth_data_lines() {
    let m = ClientMessage::AuthData(Secret::new(Bytes::from_static(b"dGVzdA==")));
    let wire = m.to_bytes(Dialect::Draft08);
    assert_eq!(&wire[..], b"dGVzdA==\r\n");
    let mut d = CommandDecoder::default();
    d.set_authenticate_data(true);
    d.feed(&wire);
    assert_eq!(d.next().unwrap(), Some(m));
}

/// E-18's tolerance joins only the erratum's words: `PIMAP_NOTIFICATION ADDRESS (..)` is the
/// address item, `PIMAP_NOTIFICATION NIL ()` an unknown item whose values are NIL and ()
/// (proptest found it read as `PIMAP_NOTIFICATION_NIL`).
#[test]
fn e18_joins_only_its_own_words() {
    let decode = |wire: &[u8]| {
        let mut d = ResponseDecoder::default();
        d.feed(wire);
        d.next().expect("decodes").expect("a response")
    };
    let item = Response::Data(Data::XProvision(ProvisionItem::Other {
        name: Atom::try_from("PIMAP_NOTIFICATION").unwrap(),
        values: vec![PrefValue::Nil, PrefValue::List(vec![])],
    }));
    let wire = item.to_vec(Dialect::Draft08);
    assert_eq!(wire, b"* XPROVISION PIMAP_NOTIFICATION NIL ()\r\n");
    assert_eq!(decode(&wire), item);
    assert_eq!(
        decode(b"* XPROVISION PIMAP_NOTIFICATION ADDRESS (10.0.0.1)\r\n"),
        Response::Data(Data::XProvision(ProvisionItem::NotificationAddress(is(
            "10.0.0.1"
        ))))
    );
}
