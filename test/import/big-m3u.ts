/** A synthetic upstream M3U of `count` channels, in the shape Flussonic exports. */
export function bigM3u(count: number): string {
  const lines = ['#EXTM3U'];
  for (let i = 1; i <= count; i++) {
    lines.push(
      `#EXTINF:-1 tvg-id="ch${i}.example" tvg-name="Channel ${i}" tvg-logo="https://logos.example/ch${i}.png" tvg-chno="${i}" group-title="Group ${i % 20}",Channel ${i}`,
      `http://flussonic.example/live/ch${i}/index.m3u8`,
    );
  }
  return `${lines.join('\n')}\n`;
}
