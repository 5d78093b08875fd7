//! The `wasm32` build's exchange over standard `wasi:http`.

use std::io::Read;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use super::{MAX_RESPONSE_BYTES, Request, Response, Target};
use crate::Error;

/// Sends `request` with `fields` as its headers and the body from `reader`
/// (none when `None`), and reads the whole response.
pub(super) fn exchange(
    request: &Request,
    target: &Target,
    fields: &[(String, Vec<u8>)],
    reader: Option<&mut dyn Read>,
) -> Result<Response, Error> {
    let outgoing = to_wasi(request, target, fields)?;
    let body = match reader {
        Some(reader) => {
            let body = outgoing
                .body()
                .map_err(|()| Error::internal("the request body was already taken"))?;
            Some((body, reader))
        }
        None => None,
    };
    let pending = outgoing_handler::handle(outgoing, Some(options(request)))
        .map_err(|e| error_from_code(e, target))?;
    if let Some((body, reader)) = body
        && let Err(e) = write_body(body, reader, target)
    {
        // A request the host refused (an ungranted host) or could not
        // send (connection refused) has no one reading its body: the
        // write fails with "closed", and only the response says why.
        return Err(refusal(&pending, target).unwrap_or(e));
    }
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(code))) => return Err(error_from_code(code, target)),
        Some(Err(())) | None => {
            return Err(Error::internal("the response was already taken"));
        }
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| Error::internal("the response body was already taken"))?;
    let body = read_body(&incoming, target)?;
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The `wasi:http` request: method, scheme, authority, path, headers.
fn to_wasi(
    request: &Request,
    target: &Target,
    fields: &[(String, Vec<u8>)],
) -> Result<OutgoingRequest, Error> {
    let headers = Fields::from_list(fields)
        .map_err(|e| Error::invalid_input(format!("invalid request header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let set = |ok: Result<(), ()>, what: &str| {
        ok.map_err(|()| Error::invalid_input(format!("invalid {what} in {:?}", request.url)))
    };
    set(outgoing.set_method(&method), "method")?;
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    set(outgoing.set_scheme(Some(&scheme)), "scheme")?;
    set(outgoing.set_authority(Some(&target.authority)), "host")?;
    set(outgoing.set_path_with_query(Some(&target.path)), "path")?;
    Ok(outgoing)
}

fn options(request: &Request) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = u64::try_from(request.timeout.as_nanos()).unwrap_or(u64::MAX);
    // Hosts may not support every timeout; a refusal is not an error.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    options
}

/// Writes all of `reader` into the request body and finishes it.
fn write_body(body: OutgoingBody, reader: &mut dyn Read, target: &Target) -> Result<(), Error> {
    {
        let stream = body
            .write()
            .map_err(|()| Error::internal("the request body stream was already taken"))?;
        // wasi:io's blocking write takes at most 4096 bytes at a time.
        let mut buf = [0u8; 4096];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::internal(format!(
                        "reading the body of the request to {} failed: {e}",
                        target.authority
                    )));
                }
            };
            stream
                .blocking_write_and_flush(&buf[..n])
                .map_err(|e| stream_error(e, target))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| error_from_code(e, target))
}

/// The error the host answered a request with, if it did (waiting for the
/// answer): a refusal or a failure to connect explains a closed body.
fn refusal(pending: &FutureIncomingResponse, target: &Target) -> Option<Error> {
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Err(code))) => Some(error_from_code(code, target)),
        _ => None,
    }
}

fn read_body(incoming: &IncomingBody, target: &Target) -> Result<Vec<u8>, Error> {
    let stream = incoming
        .stream()
        .map_err(|()| Error::internal("the response body stream was already taken"))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Error::unavailable(format!(
                        "the response from {} is larger than {MAX_RESPONSE_BYTES} bytes",
                        target.authority
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(out),
            Err(e) => return Err(stream_error(e, target)),
        }
    }
}

fn stream_error(e: StreamError, target: &Target) -> Error {
    match e {
        StreamError::Closed => {
            Error::unavailable(format!("{} closed the connection", target.authority))
        }
        StreamError::LastOperationFailed(err) => Error::unavailable(format!(
            "I/O with {} failed: {}",
            target.authority,
            err.to_debug_string()
        )),
    }
}

fn error_from_code(code: ErrorCode, target: &Target) -> Error {
    let host = &target.authority;
    match code {
        ErrorCode::HttpRequestDenied => Error::denied(format!(
            "outbound http to {host} is not allowed: the pack must request and the environment must grant capability \"http:{host}\""
        )),
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => {
            Error::timeout(format!("request to {host} timed out ({code:?})"))
        }
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => {
            Error::unavailable(format!("cannot reach {host}: {code:?}"))
        }
        ErrorCode::InternalError(Some(m)) => {
            Error::unavailable(format!("request to {host} failed: {m}"))
        }
        other => Error::unavailable(format!("request to {host} failed: {other:?}")),
    }
}
