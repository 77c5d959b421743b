//! [`Buffer`]: a body collected into one [`Bytes`], up to a limit. A body of one frame — what a
//! small MCP message nearly always is — is taken as it is, without a copy or an allocation.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::Body;
use pin_project_lite::pin_project;

/// Why a body could not be buffered.
#[derive(Debug)]
pub enum BufferError<E> {
    /// Longer than the limit.
    TooLarge,
    /// The body failed.
    Body(E),
}

pin_project! {
    /// Collects the data frames of a body (trailers are dropped).
    pub struct Buffer<B> {
        #[pin]
        body: B,
        first: Option<Bytes>,
        more: Option<BytesMut>,
        len: usize,
        limit: usize,
    }
}

impl<B> Buffer<B> {
    /// Collects `body`, failing once it holds more than `limit` bytes.
    pub(super) fn new(body: B, limit: usize) -> Self {
        Buffer {
            body,
            first: None,
            more: None,
            len: 0,
            limit,
        }
    }
}

impl<B> Future for Buffer<B>
where
    B: Body,
{
    type Output = Result<Bytes, BufferError<B::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let frame = match ready!(this.body.as_mut().poll_frame(cx)) {
                None => break,
                Some(Err(e)) => return Poll::Ready(Err(BufferError::Body(e))),
                Some(Ok(frame)) => frame,
            };
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            let size = data.remaining();
            *this.len = this.len.saturating_add(size);
            if *this.len > *this.limit {
                return Poll::Ready(Err(BufferError::TooLarge));
            }
            if size == 0 {
                continue;
            }
            match (this.first.as_ref(), this.more.as_mut()) {
                (None, _) => *this.first = Some(data.copy_to_bytes(size)),
                (Some(first), None) => {
                    let mut more = BytesMut::with_capacity(first.len() + size);
                    more.put_slice(first);
                    more.put(data);
                    *this.more = Some(more);
                }
                (Some(_), Some(more)) => more.put(data),
            }
        }
        let bytes = match (this.more.take(), this.first.take()) {
            (Some(more), _) => more.freeze(),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        };
        Poll::Ready(Ok(bytes))
    }
}

impl<B> std::fmt::Debug for Buffer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.len)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::Full;
    use std::collections::VecDeque;
    use std::convert::Infallible;

    /// A body of the given data frames.
    struct Frames(VecDeque<&'static str>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            let next = self.0.pop_front();
            Poll::Ready(next.map(|d| Ok(Frame::data(Bytes::from_static(d.as_bytes())))))
        }
    }

    fn frames(parts: &[&'static str]) -> Frames {
        Frames(parts.iter().copied().collect())
    }

    #[tokio::test]
    async fn one_frame_is_taken_as_it_is() {
        let data = Bytes::from_static(b"{\"jsonrpc\":\"2.0\"}");
        let got = Buffer::new(Full::new(data.clone()), 1024).await.unwrap();
        assert_eq!(got, data);
        assert_eq!(got.as_ptr(), data.as_ptr());
    }

    #[tokio::test]
    async fn frames_are_joined() {
        let got = Buffer::new(frames(&["ab", "", "cd", "e"]), 5)
            .await
            .unwrap();
        assert_eq!(got, "abcde");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large() {
        let got = Buffer::new(frames(&["abc", "def"]), 5).await;
        assert!(matches!(got, Err(BufferError::TooLarge)));
    }

    #[tokio::test]
    async fn an_empty_body_is_empty() {
        let got = Buffer::new(frames(&[]), 0).await.unwrap();
        assert!(got.is_empty());
    }
}
