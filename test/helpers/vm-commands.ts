// A command provider's create and destroy commands as a user would write them for a cloud CLI, here making a
// "VM" that is a container running sshd which accepts a key of its own; create prints its address and host key.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { BASE_IMAGE, RUN_OPTIONS } from "./fleet.js";

export interface VmCommands {
  create: string;
  destroy: string;
  /** Saves the machine as an image, as a cloud's create-image call would; prints image=<ref>. */
  bake: string;
  identityFile: string;
}

/** Writes create.sh, destroy.sh and a client key into `dir`. */
export async function writeVmCommands(dir: string): Promise<VmCommands> {
  const identityFile = path.join(dir, "id_ed25519");
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", identityFile]);
  await writeFile(
    path.join(dir, "create.sh"),
    `set -e
podman run -d --name "$LIFEBOAT_NAME" --label "lifeboat.run=$LIFEBOAT_RUN_ID" ${RUN_OPTIONS.join(" ")} "\${LIFEBOAT_IMAGE:-${BASE_IMAGE}}" sleep infinity >/dev/null
podman exec "$LIFEBOAT_NAME" sh -c 'mkdir -p -m 700 /root/.ssh /run/sshd && ssh-keygen -q -A'
podman cp "${identityFile}.pub" "$LIFEBOAT_NAME:/root/.ssh/authorized_keys"
podman exec "$LIFEBOAT_NAME" chown root: /root/.ssh/authorized_keys
podman exec -d "$LIFEBOAT_NAME" /usr/sbin/sshd -D -e -o PasswordAuthentication=no
ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$LIFEBOAT_NAME")
for i in $(seq 50); do ssh-keyscan -T 1 "$ip" >/dev/null 2>&1 && break; sleep 0.1; done
echo "address=$ip"
echo "hostkey=$(podman exec "$LIFEBOAT_NAME" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f1,2)"
`,
  );
  await writeFile(
    path.join(dir, "bake.sh"),
    `set -e
ref="localhost/lbcmd-baked-$LIFEBOAT_HOST:$LIFEBOAT_DIGEST"
podman commit -q "$LIFEBOAT_NAME" "$ref" >/dev/null
echo "image=$ref"
`,
  );
  await writeFile(path.join(dir, "destroy.sh"), 'podman rm -f -t 0 "$LIFEBOAT_NAME" >/dev/null\n');
  return {
    create: `sh ${path.join(dir, "create.sh")}`,
    destroy: `sh ${path.join(dir, "destroy.sh")}`,
    bake: `sh ${path.join(dir, "bake.sh")}`,
    identityFile,
  };
}
